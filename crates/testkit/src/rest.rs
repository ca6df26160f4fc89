//! Reading the REST API's answers (`docs/protocol.md`) in tests.

use serde_json::Value;

/// The messages of a `GET /api/conversations/{id}/messages` answer as `(role, content)`, in order.
pub fn message_pairs(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("a messages list: {body}"))
        .iter()
        .map(|m| {
            (
                m["role"].as_str().expect("a role").to_owned(),
                m["content"].as_str().expect("a content").to_owned(),
            )
        })
        .collect()
}
