//! A sealed credential: Python code can hand it to a call but never read it back.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use wasmgate_runtime::Secret;

/// An API key sealed in native memory. It prints as `Credential(<sealed>)`, cannot be pickled
/// or read back, and the adapter sees only a placeholder that the host swaps for the key on the
/// way out (to the call's `api_base` and the hosts the policy names).
#[pyclass(frozen, module = "wasmgate._native")]
pub struct Credential {
    pub(crate) secret: Secret,
}

#[pymethods]
impl Credential {
    /// Seals `value`.
    #[new]
    fn new(value: &str) -> PyResult<Self> {
        if value.trim().is_empty() {
            return Err(PyValueError::new_err("a credential cannot be empty"));
        }
        Ok(Credential {
            secret: Secret::new(value),
        })
    }

    /// Seals the environment variable `name` without it ever becoming a Python object.
    #[staticmethod]
    fn from_env(name: &str) -> PyResult<Self> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(Credential {
                secret: Secret::new(value),
            }),
            _ => Err(PyValueError::new_err(format!(
                "the environment variable {name} is not set"
            ))),
        }
    }

    fn __repr__(&self) -> &'static str {
        "Credential(<sealed>)"
    }

    fn __str__(&self) -> &'static str {
        "Credential(<sealed>)"
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "a Credential cannot be pickled: seal the key again where it is used",
        ))
    }
}
