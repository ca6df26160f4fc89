//! Metrics as CloudWatch Embedded Metric Format (EMF) log lines: one JSON object per line on stdout,
//! which CloudWatch Logs turns into metrics. No SDK call and no per-call cost, and it works wherever
//! the logs go (and in tests, where the line can be read back).

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "ServerlessOpenClaw";

/// A CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Count,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "Milliseconds",
            Unit::Count => "Count",
            Unit::None => "None",
        }
    }
}

/// One EMF record: metrics sharing the dimension `Function` and any further dimensions (each
/// combination of dimension values is a metric of its own, billed as such), and extra properties for
/// Logs Insights, which are not dimensions and so cost nothing.
#[derive(Debug, Clone)]
pub struct Record {
    function: String,
    dimensions: Vec<(&'static str, String)>,
    metrics: Vec<(&'static str, f64, Unit)>,
    properties: Map<String, Value>,
}

impl Record {
    pub fn new(function: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// Adds a dimension beside `Function` to every metric of the record.
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn metric(mut self, name: &'static str, value: f64, unit: Unit) -> Self {
        self.metrics.push((name, value, unit));
        self
    }

    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// The EMF JSON line, stamped with `timestamp_ms`.
    pub fn to_line(&self, timestamp_ms: i64) -> String {
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let dimensions: Vec<&str> = std::iter::once("Function")
            .chain(self.dimensions.iter().map(|(name, _)| *name))
            .collect();
        let mut root = self.properties.clone();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimensions],
                    "Metrics": definitions,
                }],
            }),
        );
        root.insert("Function".into(), Value::from(self.function.as_str()));
        for (name, value) in &self.dimensions {
            root.insert((*name).to_owned(), Value::from(value.as_str()));
        }
        for (name, value, _) in &self.metrics {
            root.insert((*name).to_owned(), json!(value));
        }
        Value::Object(root).to_string()
    }

    /// Writes the line to stdout, where Lambda sends it to CloudWatch Logs.
    pub fn emit(&self) {
        let now = time::OffsetDateTime::now_utc();
        println!(
            "{}",
            self.to_line((now.unix_timestamp_nanos() / 1_000_000) as i64)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_valid_emf_document() {
        let line = Record::new("agent")
            .metric("TurnLatency", 1234.0, Unit::Milliseconds)
            .metric("InputTokens", 10.0, Unit::Count)
            .property("outcome", "answered")
            .to_line(1_700_000_000_000);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([
                {"Name": "TurnLatency", "Unit": "Milliseconds"},
                {"Name": "InputTokens", "Unit": "Count"}
            ])
        );
        // Every metric and dimension named in the directive is a top-level member.
        assert_eq!(v["Function"], "agent");
        assert_eq!(v["TurnLatency"], 1234.0);
        assert_eq!(v["InputTokens"], 10.0);
        assert_eq!(v["outcome"], "answered");
    }

    #[test]
    fn a_further_dimension_joins_function_in_the_one_dimension_set() {
        let line = Record::new("agent")
            .dimension("ErrorCode", "llm_error")
            .metric("TurnFailed", 1.0, Unit::Count)
            .to_line(1_700_000_000_000);
        let v: Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["Function", "ErrorCode"]]));
        assert_eq!(v["Function"], "agent");
        assert_eq!(v["ErrorCode"], "llm_error");
        assert_eq!(v["TurnFailed"], 1.0);
    }
}
