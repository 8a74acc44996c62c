//! Helpers for the tests of scalelab's crates (not a stable API): test scenarios live in
//! fixture files, and a template's `{name}` holes are filled by [`fill`].

use std::fmt::Display;

/// `template` with every `{name}` replaced by the value given for `name`.
pub fn fill(template: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut s = template.to_string();
    for (name, value) in values {
        s = s.replace(&format!("{{{name}}}"), &value.to_string());
    }
    s
}
