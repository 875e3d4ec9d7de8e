//! Reading the keys of a JSON line, for the tests of formats that write JSON.

/// The top-level keys of a JSON object, in order, a key written twice listed twice
/// (`serde_json::Value` would keep only the last).
pub fn json_keys(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Keys;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(key);
            }
            Ok(Keys(keys))
        }
    }
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(Visit)
        }
    }
    serde_json::from_str::<Keys>(line)
        .unwrap_or_else(|e| panic!("{e}: {line}"))
        .0
}
