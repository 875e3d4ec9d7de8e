//! Strategy parameters from arbitrary `--param name=value` text (`Params::from_assignments`,
//! `ParamValue::parse`): no panic; a refusal, a getter's error and `Display` are one printable
//! line; the last assignment of a name wins; a number shows as text that reads back as the
//! same number; parameters written as JSON (a session record, a result's metadata) read back
//! the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx_backtest::{ParamValue, Params};

fn printable(e: &impl std::fmt::Display) {
    let shown = e.to_string();
    assert!(!shown.chars().any(is_escaped), "{shown:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let assignments: Vec<&str> = text.split('\n').collect();
    let params = match Params::from_assignments(&assignments) {
        Ok(params) => params,
        Err(e) => {
            printable(&e);
            return;
        }
    };
    printable(&params);
    for a in &assignments {
        let (name, _) = a.split_once('=').expect("an accepted assignment has a '='");
        let name = name.trim();
        let last = assignments
            .iter()
            .rev()
            .filter_map(|a| a.split_once('='))
            .find(|(n, _)| n.trim() == name)
            .map(|(_, v)| ParamValue::parse(v.trim()));
        let got = params.get(name);
        assert_eq!(
            got.map(ToString::to_string),
            last.as_ref().map(ToString::to_string)
        );
        for shown in [
            params.int(name).map(|v| v.to_string()),
            params.float(name).map(|v| v.to_string()),
            params.positive_int(name).map(|v| v.to_string()),
            params.bool(name).map(|v| v.to_string()),
            params.str(name).map(str::to_owned),
        ] {
            if let Err(e) = shown {
                printable(&e);
            }
        }
        match got {
            Some(v @ ParamValue::Int(i)) => {
                assert_eq!(ParamValue::parse(&v.to_string()), ParamValue::Int(*i))
            }
            Some(v @ ParamValue::Float(x)) if x.is_finite() => {
                let back = match ParamValue::parse(&v.to_string()) {
                    ParamValue::Float(y) => y,
                    ParamValue::Int(i) => i as f64,
                    other => panic!("{x} shows as {v}, read back as {other:?}"),
                };
                assert_eq!(back, *x, "{x} shows as {v}");
            }
            _ => {}
        }
    }
    let json = serde_json::to_string(&params).expect("parameters serialize");
    let back: Params =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json} does not read back: {e}"));
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.len(), params.len());
});
