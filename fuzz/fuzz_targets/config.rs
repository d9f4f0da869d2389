//! apko.yaml: strict parsing (`parse_str`) and loading with validation (`load_str`) never
//! panic, and their errors render (message, hint). Inputs with an `include` are only parsed:
//! loading them would read files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match apko_config::parse_str(text, "apko.yaml") {
        Err(e) => {
            let _ = (e.to_string(), e.hint());
        }
        Ok(config) => {
            if config.include.is_some() {
                return;
            }
            match apko_config::load_str(text, "apko.yaml", &[]) {
                Ok(loaded) => {
                    let merged = apko_config::merge(loaded.config.clone(), loaded.config);
                    let _ = format!("{merged:?}");
                }
                Err(e) => {
                    let _ = (e.to_string(), e.hint());
                }
            }
        }
    }
});
