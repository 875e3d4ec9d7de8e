//! Reproducible runs: a pinned random sequence, an order-independent config hash, JSON records
//! that round-trip, and typed errors for files that are truncated, corrupt, of another version,
//! or missing or mistyping a field.

use std::path::{Path, PathBuf};

use rand::{Rng, RngCore};
use serde_json::json;
use tracectx::ReproContext;
use tracectx::prelude::*;
use tracectx::repro::{FORMAT_VERSION, ReproError};

/// The first 1,000 `u64`s for seed 42, computed independently of the crate.
fn pinned_seed_42() -> Vec<u64> {
    include_str!("data/repro_rng_seed_42.txt")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| u64::from_str_radix(line, 16).expect("a hex u64"))
        .collect()
}

/// A directory of its own for one test, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tracectx-repro-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample() -> ReproContext {
    ReproContext::create(42)
        .with_param("fast", 10)
        .with_param("slow", 30.5)
        .with_param("symbol", "ES")
}

/// Saves `repro`, lets `edit` change the JSON, writes it back and loads it.
fn load_edited(
    dir: &TempDir,
    repro: &ReproContext,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> (PathBuf, Result<ReproContext, ReproError>) {
    let path = dir.file("edited.json");
    repro.save(&path).unwrap();
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(value.as_object_mut().unwrap());
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let loaded = ReproContext::load(&path);
    (path, loaded)
}

fn assert_names(err: &ReproError, path: &Path, field: Option<&str>) {
    assert_eq!(err.path(), Some(path), "{err}");
    assert_eq!(err.field(), field, "{err}");
    assert!(err.to_string().contains(&format!("{path:?}")), "{err}");
    if let Some(field) = field {
        assert!(err.to_string().contains(field), "{err}");
    }
}

// === the generator ===

#[test]
fn same_seed_gives_the_pinned_first_1000_numbers() {
    let expected = pinned_seed_42();
    assert_eq!(expected.len(), 1_000);

    let mut rng = ReproContext::create(42).rng();
    let got: Vec<u64> = (0..1_000).map(|_| rng.next_u64()).collect();
    assert_eq!(got, expected);

    // A record loaded back draws the same numbers.
    let dir = TempDir::new("pinned");
    let path = dir.file("run.json");
    ReproContext::create(42).save(&path).unwrap();
    let mut again = ReproContext::load(&path).unwrap().rng();
    let got: Vec<u64> = (0..1_000).map(|_| again.next_u64()).collect();
    assert_eq!(got, expected);
}

#[test]
fn another_seed_or_stream_gives_another_sequence() {
    let a = ReproContext::create(42);
    let first: Vec<u64> = a.rng().random_iter().take(16).collect();
    let other_seed: Vec<u64> = ReproContext::create(43)
        .rng()
        .random_iter()
        .take(16)
        .collect();
    let other_stream: Vec<u64> = a.rng_stream(1).random_iter().take(16).collect();
    assert_ne!(first, other_seed);
    assert_ne!(first, other_stream);
    assert_eq!(a.rng_stream(0), a.rng());
    assert_eq!(
        a.rng_stream(7).random_iter().take(16).collect::<Vec<u64>>(),
        a.rng_stream(7).random_iter().take(16).collect::<Vec<u64>>()
    );
}

// === the configuration ===

#[test]
fn config_hash_does_not_depend_on_parameter_order() {
    let forward = ReproContext::create(1)
        .with_param("fast", 10)
        .with_param("name", "ES")
        .with_param("slow", 30.5);
    let backward = ReproContext::create(2)
        .with_param("slow", 30.5)
        .with_param("name", "ES")
        .with_param("fast", 10);
    assert_eq!(forward.config_hash(), backward.config_hash());

    // Nested maps too, whatever map type they came from.
    let mut hashed = std::collections::HashMap::new();
    for (k, v) in [("b", 2), ("a", 1), ("c", 3)] {
        hashed.insert(k, v);
    }
    let mut ordered = std::collections::BTreeMap::new();
    for (k, v) in [("c", 3), ("a", 1), ("b", 2)] {
        ordered.insert(k, v);
    }
    let a = ReproContext::create(1)
        .with_config(&json!({ "weights": hashed }))
        .unwrap();
    let b = ReproContext::create(1)
        .with_config(&json!({ "weights": ordered }))
        .unwrap();
    assert_eq!(a.config_hash(), b.config_hash());

    let changed = forward.clone().with_param("fast", 11);
    assert_ne!(changed.config_hash(), forward.config_hash());
}

#[test]
fn config_hash_is_pinned() {
    // SHA-256 of `{"fast":10,"name":"ES","nested":{"a":[1,2],"b":null},"slow":30.5}`,
    // computed outside the crate: the same on every platform and release.
    let repro = ReproContext::create(0)
        .with_param("slow", 30.5)
        .with_param("nested", json!({ "b": null, "a": [1, 2] }))
        .with_param("name", "ES")
        .with_param("fast", 10);
    assert_eq!(
        repro.config_hash(),
        "7eae0af8b477291109a3c8d2c8a0746e5a31920e154ef5f8571db221d9b18219"
    );
    assert_eq!(
        ReproContext::create(0).config_hash(),
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
}

#[test]
fn with_config_takes_a_struct_and_refuses_a_non_map() {
    #[derive(serde::Serialize)]
    struct Params {
        fast: u32,
        slow: u32,
    }
    let repro = ReproContext::create(1)
        .with_config(&Params { fast: 10, slow: 30 })
        .unwrap();
    assert_eq!(repro.param("fast"), Some(&json!(10)));
    assert_eq!(
        repro.config_hash(),
        ReproContext::create(9)
            .with_param("slow", 30)
            .with_param("fast", 10)
            .config_hash()
    );

    let err = ReproContext::create(1).with_config(&[1, 2, 3]).unwrap_err();
    assert!(matches!(err, ReproError::Config { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot record the run's config: expected a struct or a map, found an array"
    );
}

// === the record ===

#[test]
fn create_records_the_environment() {
    let before = std::time::SystemTime::now();
    let repro = ReproContext::create(5);
    assert!(repro.run_id().starts_with("run_"));
    assert_eq!(repro.trace_context().run_id(), repro.run_id());
    assert_eq!(repro.crate_version(), env!("CARGO_PKG_VERSION"));
    assert_eq!(repro.os(), std::env::consts::OS);
    assert_eq!(repro.arch(), std::env::consts::ARCH);
    let age = repro
        .created_at()
        .duration_since(before)
        .unwrap_or_default();
    assert!(age < std::time::Duration::from_secs(60));
    let created = repro.created_at_rfc3339();
    assert_eq!(created.len(), "2024-01-01T10:00:00.000000Z".len());
    assert!(created.ends_with('Z'));
    if cfg!(target_os = "linux") {
        assert!(repro.hostname().is_some());
    }
    if let Some(commit) = repro.git_commit() {
        assert!(!commit.is_empty() && !commit.contains(char::is_whitespace));
    }
}

#[test]
fn save_and_load_round_trip() {
    let dir = TempDir::new("round_trip");
    let path = dir.file("run.repro.json");
    let repro = sample().with_param("nested", json!({ "z": [1, { "y": true }], "a": "x\ny" }));
    repro.save(&path).unwrap();

    let loaded = ReproContext::load(&path).unwrap();
    assert_eq!(loaded, repro);
    assert_eq!(loaded.trace_context(), repro.trace_context());
    assert_eq!(loaded.created_at(), repro.created_at());
    assert_eq!(loaded.config_hash(), repro.config_hash());
    assert!(repro.compare(&loaded).is_empty());

    let text = std::fs::read_to_string(&path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["format_version"], json!(FORMAT_VERSION));
    assert_eq!(value["seed"], json!(42));
    assert_eq!(value["run_id"], json!(repro.run_id().as_str()));
    assert_eq!(value["trace_id"].as_str().unwrap().len(), 32);
    assert_eq!(value["config_hash"], json!(repro.config_hash()));
    assert_eq!(value["created_at"], json!(repro.created_at_rfc3339()));
    // Keys are written sorted, whatever order they were given in.
    assert!(text.find("\"fast\"").unwrap() < text.find("\"slow\"").unwrap());
    // Nothing is left beside the file.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
}

/// A run nested in another (a session of a sweep, a request continuing a caller's trace)
/// comes back from its record under the same parent span, so a replay sits where the original
/// ran in the trace; a record without the field (written before it existed, or of a root run)
/// loads as a root.
#[test]
fn a_nested_run_round_trips_with_its_parent_span() {
    let dir = TempDir::new("nested");
    let path = dir.file("session.repro.json");
    let sweep = TraceContext::new("sweep_1").unwrap();
    let session = sweep.child_run("session_7").unwrap();
    let repro = sample().with_trace_context(session.clone());
    repro.save(&path).unwrap();

    let loaded = ReproContext::load(&path).unwrap();
    assert_eq!(loaded.trace_context(), session);
    assert_eq!(
        loaded.trace_context().parent_span_id(),
        Some(sweep.span_id())
    );
    assert_eq!(loaded, repro);

    let root = sample();
    let (_, loaded) = load_edited(&dir, &root, |map| {
        assert_eq!(map.remove("parent_span_id"), Some(json!(null)));
    });
    let loaded = loaded.unwrap();
    assert_eq!(loaded, root);
    assert_eq!(loaded.trace_context().parent_span_id(), None);

    let (edited, refused) = load_edited(&dir, &repro, |map| {
        map.insert("parent_span_id".into(), json!("not a span id"));
    });
    assert_names(&refused.unwrap_err(), &edited, Some("parent_span_id"));
}

/// The W3C flags come back too: a run that was not sampled upstream is not sampled in its
/// replay, and the "random" flag of a generated trace id stays; a record without the field
/// loads as sampled, as before.
#[test]
fn a_runs_trace_flags_round_trip() {
    use tracectx::TraceFlags;

    let dir = TempDir::new("flags");
    let path = dir.file("run.repro.json");
    for flags in [
        TraceFlags::NONE,
        TraceFlags::SAMPLED,
        TraceFlags::SAMPLED.with(TraceFlags::RANDOM),
    ] {
        let ctx = TraceContext::generate("flagged").with_trace_flags(flags);
        let repro = sample().with_trace_context(ctx);
        repro.save(&path).unwrap();
        let loaded = ReproContext::load(&path).unwrap();
        assert_eq!(loaded.trace_context().trace_flags(), flags);
    }
    let generated = sample().trace_context().trace_flags();
    assert!(generated.is_random(), "{generated:?}");

    let (_, loaded) = load_edited(&dir, &sample(), |map| {
        assert!(map.remove("trace_flags").is_some());
    });
    assert_eq!(
        loaded.unwrap().trace_context().trace_flags(),
        TraceFlags::SAMPLED
    );
    for bad in [json!("3"), json!("zz"), json!("0x1"), json!(1)] {
        let (edited, refused) = load_edited(&dir, &sample(), |map| {
            map.insert("trace_flags".into(), bad.clone());
        });
        assert_names(&refused.unwrap_err(), &edited, Some("trace_flags"));
    }
}

#[test]
fn compare_lists_what_differs() {
    let dir = TempDir::new("compare");
    let repro = sample();
    let (_, other) = load_edited(&dir, &repro, |map| {
        map.insert("hostname".into(), json!("research-box-2"));
        map.insert("git_commit".into(), json!(null));
        map.insert("os".into(), json!("macos"));
        map.insert("crate_version".into(), json!("0.0.1"));
    });
    let other = other.unwrap();
    let diffs = repro.compare(&other);
    let fields: Vec<&str> = diffs.iter().map(|d| d.field()).collect();
    let mut expected = vec!["crate_version", "os", "hostname"];
    if repro.git_commit().is_some() {
        expected.insert(0, "git_commit");
    }
    assert_eq!(fields, expected);
    let os = diffs.iter().find(|d| d.field() == "os").unwrap();
    assert_eq!(os.this(), Some(std::env::consts::OS));
    assert_eq!(os.other(), Some("macos"));
    assert_eq!(
        os.to_string(),
        format!("os: {} != macos", std::env::consts::OS)
    );

    let reseeded = ReproContext::create(43)
        .with_param("fast", 12)
        .with_param("slow", 30.5)
        .with_param("extra", "x");
    let diffs: Vec<String> = repro
        .compare(&reseeded)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        diffs,
        [
            "seed: 42 != 43",
            "config.extra: (none) != \"x\"",
            "config.fast: 10 != 12",
            "config.symbol: \"ES\" != (none)",
        ]
    );
}

#[test]
fn what_compare_shows_of_a_loaded_record_is_one_escaped_line() {
    let dir = TempDir::new("compare-escaped");
    let repro = sample();
    let (_, other) = load_edited(&dir, &repro, |map| {
        map.insert("hostname".into(), json!("box\nconfig.fast: 10 != 10"));
        map.insert("os".into(), json!("linux\u{1b}[2J\u{202e}"));
    });
    let other = other.unwrap();
    let odd = ReproContext::create(42).with_param("k\u{85}ey", "v\r\u{2028}");
    for difference in repro.compare(&other).iter().chain(&repro.compare(&odd)) {
        let shown = difference.to_string();
        assert!(
            !shown.chars().any(tracectx::escape::is_escaped),
            "{shown:?}"
        );
    }
    let shown: Vec<String> = repro
        .compare(&other)
        .iter()
        .filter(|d| matches!(d.field(), "os" | "hostname"))
        .map(ToString::to_string)
        .collect();
    let (os, host) = (std::env::consts::OS, repro.hostname().unwrap_or("(none)"));
    assert_eq!(
        shown,
        [
            format!(r"os: {os} != linux\u{{1b}}[2J\u{{202e}}"),
            format!(r"hostname: {host} != box\nconfig.fast: 10 != 10"),
        ]
    );
    // The values themselves are as recorded.
    assert_eq!(other.os(), "linux\u{1b}[2J\u{202e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_drives_a_traced_run() {
    async fn session(repro: ReproContext) -> (Option<String>, u64) {
        let mut rng = repro.rng();
        tokio::task::yield_now().await;
        let in_task = tracectx::spawn_traced(async { tracectx::get_run_id() })
            .await
            .unwrap();
        (in_task.map(|r| r.to_string()), rng.next_u64())
    }

    let repro = ReproContext::create(42);
    let (run, first) = session(repro.clone())
        .in_trace_context(repro.trace_context())
        .await;
    assert_eq!(run.as_deref(), Some(repro.run_id().as_str()));
    assert_eq!(first, pinned_seed_42()[0]);
}

// === loading bad files ===

#[test]
fn corrupt_file_is_a_corrupt_error_with_file_and_position() {
    let dir = TempDir::new("corrupt");
    let path = dir.file("corrupt.json");
    std::fs::write(&path, "{\n  \"format_version\": 1,\n  \"seed\": 4x2\n}\n").unwrap();
    let err = ReproContext::load(&path).unwrap_err();
    match &err {
        ReproError::Corrupt { line, column, .. } => assert_eq!((*line, *column), (3, 12)),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_names(&err, &path, None);
    assert!(err.to_string().contains("at line 3, column 12"), "{err}");

    std::fs::write(&path, "[1, 2]").unwrap();
    let err = ReproContext::load(&path).unwrap_err();
    assert!(matches!(err, ReproError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("expected a JSON object, found an array"),
        "{err}"
    );
}

#[test]
fn truncated_file_is_a_truncated_error() {
    let dir = TempDir::new("truncated");
    let path = dir.file("run.json");
    sample().save(&path).unwrap();
    let full = std::fs::read(&path).unwrap();
    for cut in [0, 1, full.len() / 2, full.len() - 3] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let err = ReproContext::load(&path).unwrap_err();
        assert!(
            matches!(err, ReproError::Truncated { .. }),
            "cut at {cut}: {err:?}"
        );
        assert_names(&err, &path, None);
    }
}

#[test]
fn missing_field_names_the_field() {
    let dir = TempDir::new("missing");
    for field in ["seed", "run_id", "config", "hostname", "format_version"] {
        let (path, loaded) = load_edited(&dir, &sample(), |map| {
            map.remove(field);
        });
        let err = loaded.unwrap_err();
        match &err {
            ReproError::MissingField { field: f, .. } => assert_eq!(*f, field),
            other => panic!("expected MissingField for {field}, got {other:?}"),
        }
        assert_names(&err, &path, Some(field));
        assert_eq!(
            err.to_string(),
            format!("repro file {path:?} has no field `{field}`")
        );
    }
}

#[test]
fn wrong_type_names_the_field() {
    let dir = TempDir::new("wrong_type");
    let (path, loaded) = load_edited(&dir, &sample(), |map| {
        map.insert("seed".into(), json!("forty-two"));
    });
    let err = loaded.unwrap_err();
    assert!(
        matches!(&err, ReproError::InvalidField { field: "seed", .. }),
        "{err:?}"
    );
    assert_names(&err, &path, Some("seed"));
    assert_eq!(
        err.to_string(),
        format!(
            "repro file {path:?} has an invalid field `seed`: invalid type: string \"forty-two\", expected u64"
        )
    );

    for (field, value) in [
        ("config", json!([1, 2])),
        ("hostname", json!(7)),
        ("run_id", json!("has space")),
        ("trace_id", json!("a1b2c3d4")),
        ("created_at", json!("yesterday")),
        ("format_version", json!("1")),
    ] {
        let (path, loaded) = load_edited(&dir, &sample(), |map| {
            map.insert(field.into(), value);
        });
        let err = loaded.unwrap_err();
        assert!(
            matches!(&err, ReproError::InvalidField { field: f, .. } if *f == field),
            "{field}: {err:?}"
        );
        assert_names(&err, &path, Some(field));
    }
}

#[test]
fn wrong_version_is_refused_before_any_other_field() {
    let dir = TempDir::new("version");
    let (path, loaded) = load_edited(&dir, &sample(), |map| {
        map.insert("format_version".into(), json!(2));
        map.remove("seed"); // a v2 file may lack fields: the version is what matters
    });
    let err = loaded.unwrap_err();
    assert!(
        matches!(
            err,
            ReproError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, Some("format_version"));
}

#[test]
fn edited_config_fails_the_hash_check() {
    let dir = TempDir::new("hash");
    let (path, loaded) = load_edited(&dir, &sample(), |map| {
        map["config"]["fast"] = json!(11);
    });
    let err = loaded.unwrap_err();
    assert!(
        matches!(
            &err,
            ReproError::InvalidField {
                field: "config_hash",
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, Some("config_hash"));
}

#[test]
fn a_forged_config_hash_is_shown_escaped() {
    let dir = TempDir::new("hash-escaped");
    let (path, loaded) = load_edited(&dir, &sample(), |map| {
        map.insert(
            "config_hash".into(),
            json!("00\n[2024-01-01] forged\u{1b}[2K"),
        );
    });
    let err = loaded.unwrap_err();
    assert_names(&err, &path, Some("config_hash"));
    let shown = err.to_string();
    assert!(
        !shown.chars().any(tracectx::escape::is_escaped),
        "{shown:?}"
    );
    assert!(
        shown.contains(r#""00\n[2024-01-01] forged\u{1b}[2K" does not match"#),
        "{shown}"
    );
}

#[test]
fn a_file_longer_than_any_record_is_refused_before_it_is_read_whole() {
    use tracectx::repro::MAX_FILE_BYTES;
    let dir = TempDir::new("too-large");
    // A valid record padded past the limit: refused for its length, not parsed.
    let path = dir.file("padded.json");
    let repro = sample();
    repro.save(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.resize(MAX_FILE_BYTES as usize + 1, b' ');
    std::fs::write(&path, &bytes).unwrap();
    let err = ReproContext::load(&path).unwrap_err();
    assert!(
        matches!(
            err,
            ReproError::TooLarge {
                limit: MAX_FILE_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, None);
    assert_eq!(
        err.to_string(),
        format!("repro file {path:?} is longer than {MAX_FILE_BYTES} bytes: not a repro record")
    );
    // At the limit, it is read.
    bytes.truncate(MAX_FILE_BYTES as usize);
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(ReproContext::load(&path).unwrap(), repro);

    // A device that never ends is refused the same way, with no more than the limit read.
    if Path::new("/dev/zero").exists() {
        let err = ReproContext::load("/dev/zero").unwrap_err();
        assert!(matches!(err, ReproError::TooLarge { .. }), "{err:?}");
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let dir = TempDir::new("unknown");
    let repro = sample();
    let (_, loaded) = load_edited(&dir, &repro, |map| {
        map.insert("notes".into(), json!("added by a later writer"));
    });
    assert_eq!(loaded.unwrap(), repro);
}

#[test]
fn unreadable_or_unwritable_paths_are_io_errors_naming_the_file() {
    let dir = TempDir::new("io");
    let path = dir.file("absent.json");
    let err = ReproContext::load(&path).unwrap_err();
    assert!(matches!(err, ReproError::Read { .. }), "{err:?}");
    assert_names(&err, &path, None);
    assert!(std::error::Error::source(&err).is_some());

    let path = dir.file("no/such/dir/run.json");
    let err = sample().save(&path).unwrap_err();
    assert!(matches!(err, ReproError::Write { .. }), "{err:?}");
    assert_names(&err, &path, None);
}
