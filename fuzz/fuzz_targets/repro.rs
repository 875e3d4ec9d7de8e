//! A saved reproduction record read back from arbitrary bytes (`ReproContext::load`): no
//! panic; a refusal is a typed error whose message is one printable line; a record that loads
//! saves and loads again the same, compares equal to itself, and what `compare` shows of it
//! beside another record is one printable line.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx::repro::ReproContext;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::path::Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_owned()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("tracectx-fuzz-repro-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("run.repro.json");
    std::fs::write(&path, data).expect("writing the input");
    let repro = match ReproContext::load(&path) {
        Ok(repro) => repro,
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.chars().any(is_escaped), "{shown:?}");
            assert_eq!(e.path(), Some(path.as_path()));
            return;
        }
    };
    assert!(repro.compare(&repro).is_empty());
    let again = dir().join("again.repro.json");
    repro.save(&again).expect("a loaded record saves");
    let reloaded = ReproContext::load(&again).expect("a saved record loads");
    assert_eq!(reloaded, repro);
    assert_eq!(reloaded.config_hash(), repro.config_hash());
    let other = ReproContext::create(0);
    for difference in repro.compare(&other).iter().chain(&other.compare(&repro)) {
        let shown = difference.to_string();
        assert!(!shown.chars().any(is_escaped), "{shown:?}");
    }
});
