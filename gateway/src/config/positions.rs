//! Where each key of a YAML document sits, by its path (`model_list[2].litellm_params.model`),
//! read from the parser's own positions so comments and repeated text cannot mislead it.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The line of every mapping key and sequence item of a document.
#[derive(Debug, Default)]
pub(super) struct Positions {
    lines: HashMap<String, usize>,
}

impl Positions {
    /// Reads `text`; a document the parser rejects yields what was read before the fault.
    pub(super) fn of(text: &str) -> Positions {
        let mut recorder = Recorder::default();
        let _ = Parser::new_from_str(text).load(&mut recorder, false);
        Positions {
            lines: recorder.lines,
        }
    }

    /// The 1-based line of the key or item at `path`.
    pub(super) fn line(&self, path: &str) -> Option<usize> {
        self.lines.get(path).copied()
    }
}

enum Frame {
    /// A mapping at `path`; `key` is set while its value is being read.
    Map { path: String, key: Option<String> },
    /// A sequence at `path`; `index` is the next item's.
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Recorder {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Recorder {
    /// The path of the value about to be read.
    fn value_path(&self) -> String {
        match self.stack.last() {
            Some(Frame::Map { path, key: Some(k) }) => join(path, k),
            Some(Frame::Seq { path, index }) => format!("{path}[{index}]"),
            _ => String::new(),
        }
    }

    /// A value has been read whole.
    fn value_done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }

    fn open(&mut self, mark: Marker, map: bool) {
        let path = self.value_path();
        if matches!(self.stack.last(), Some(Frame::Seq { .. })) {
            self.lines.entry(path.clone()).or_insert(mark.line());
        }
        self.stack.push(if map {
            Frame::Map { path, key: None }
        } else {
            Frame::Seq { path, index: 0 }
        });
    }

    fn scalar(&mut self, value: String, mark: Marker) {
        if let Some(Frame::Map {
            path,
            key: key @ None,
        }) = self.stack.last_mut()
        {
            self.lines.entry(join(path, &value)).or_insert(mark.line());
            *key = Some(value);
            return;
        }
        if matches!(self.stack.last(), Some(Frame::Seq { .. })) {
            let path = self.value_path();
            self.lines.entry(path).or_insert(mark.line());
        }
        self.value_done();
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::MappingStart(..) => self.open(mark, true),
            Event::SequenceStart(..) => self.open(mark, false),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            Event::Scalar(value, ..) => self.scalar(value, mark),
            Event::Alias(_) => self.scalar(String::new(), mark),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_items_have_their_own_lines() {
        let text = "# - model_name: commented\nmodel_list:\n  # - model_name: also commented\n  - model_name: a\n    litellm_params:\n      model: openai/x\n  - model_name: b\n    litellm_params: {model: mock/demo, api_base: \"http://h\"}\nserver:\n  port: 4000\nlist: [x, y]\n";
        let p = Positions::of(text);
        assert_eq!(p.line("model_list"), Some(2));
        assert_eq!(p.line("model_list[0]"), Some(4));
        assert_eq!(p.line("model_list[0].model_name"), Some(4));
        assert_eq!(p.line("model_list[0].litellm_params.model"), Some(6));
        assert_eq!(p.line("model_list[1]"), Some(7));
        assert_eq!(p.line("model_list[1].litellm_params.api_base"), Some(8));
        assert_eq!(p.line("server.port"), Some(10));
        assert_eq!(p.line("list[1]"), Some(11));
        assert_eq!(p.line("model_list[2]"), None);
    }
}
