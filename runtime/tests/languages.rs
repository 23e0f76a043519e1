//! The Python and JavaScript example adapters in the runtime: big components (14 and 4 core
//! modules, ~19 and ~14 MB) must fit the pooling allocator as many at a time as any adapter.

mod common;

use common::{call_with, runtime, user};
use wasmgate_runtime::AdapterPolicy;
use wasmgate_test_support::{example_wasm, Upstream};

async fn as_many_at_once_as_the_pool_holds(name: &str) {
    let rt = runtime();
    let upstream = Upstream::start().await;
    let adapter = rt
        .load_file(example_wasm(name), AdapterPolicy::default())
        .await
        .expect("load");
    // The test runtime's pool holds 64 instances.
    let calls = (0..64).map(|_| {
        let adapter = adapter.clone();
        let mut call = call_with(&[]);
        call.api_base = Some(upstream.url());
        async move { adapter.chat(&call, &user("gpt-4o-mini", "Hi")).await }
    });
    let answers = futures::future::join_all(calls).await;
    for answer in answers {
        let answer = answer.expect("every concurrent call succeeds");
        assert_eq!(
            answer.choices[0].message.content.as_deref(),
            Some("Hello from upstream")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_instances_fill_the_pool() {
    as_many_at_once_as_the_pool_holds("python-example").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_instances_fill_the_pool() {
    as_many_at_once_as_the_pool_holds("js-example").await;
}
