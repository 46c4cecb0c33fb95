//! The configuration front door: every source parsed into the same typed `Overrides`, merged per
//! field (defaults < file < `TUSK_*` environment < programmatic options / flags), one sink
//! vocabulary, invalid values rejected when the configuration is built.

use std::collections::BTreeMap;
use std::time::Duration;

use drift_exporter::config::DEFAULT_BASE_URL;
use drift_exporter::{ExporterConfig, ExporterError, OPTIONS, Overrides, SinkConfig};

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn toml(text: &str) -> Overrides {
    let dir = std::env::temp_dir().join(format!("drift-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.toml", text.len()));
    std::fs::write(&path, text).unwrap();
    let parsed = Overrides::from_toml_file(&path);
    std::fs::remove_file(&path).ok();
    parsed.unwrap()
}

fn api(config: &ExporterConfig) -> &drift_exporter::ApiSinkConfig {
    match &config.sink {
        SinkConfig::Api(api) => api,
        other => panic!("expected the api sink, got {}", other.name()),
    }
}

fn config_key(error: ExporterError) -> String {
    match error {
        ExporterError::Config { key, .. } => key,
        other => panic!("expected a configuration error, got {other}"),
    }
}

#[test]
fn api_url_and_key_from_the_environment_reach_an_api_sink_chosen_by_a_flag() {
    let env = Overrides::from_vars(&vars(&[
        ("TUSK_API_URL", "http://127.0.0.1:9"),
        ("TUSK_API_KEY", "env-key"),
    ]))
    .unwrap();
    let flags = Overrides {
        sink: Some("api".into()),
        ..Overrides::default()
    };
    let config = ExporterConfig::from_layers(&[&Overrides::default(), &env, &flags]).unwrap();
    assert_eq!(api(&config).base_url, "http://127.0.0.1:9");
    assert_eq!(api(&config).api_key, "env-key");
    // Same with the sink from the file and the URL from the environment.
    let file = toml("sink = \"api\"\n");
    let config = ExporterConfig::from_layers(&[&file, &env]).unwrap();
    assert_eq!(api(&config).base_url, "http://127.0.0.1:9");
}

#[test]
fn each_field_takes_the_highest_layer_that_sets_it() {
    let file = toml(
        "max_export_batch_size = 10\nschedule_delay_millis = 100\napi_url = \"http://file\"\n\
         sink = \"api\"\n",
    );
    let env = Overrides::from_vars(&vars(&[
        ("TUSK_MAX_EXPORT_BATCH_SIZE", "20"),
        ("TUSK_API_URL", "http://env"),
    ]))
    .unwrap();
    let options = Overrides {
        api_url: Some("http://options".into()),
        ..Overrides::default()
    };
    let config = ExporterConfig::from_layers(&[&file, &env, &options]).unwrap();
    assert_eq!(config.batch.max_export_batch_size, 20, "env over file");
    assert_eq!(
        config.batch.schedule_delay,
        Duration::from_millis(100),
        "file over defaults"
    );
    assert_eq!(api(&config).base_url, "http://options", "options over env");
    assert_eq!(config.batch.max_export_batch_bytes, 4 << 20, "default kept");
    // Without the options layer, the environment's URL.
    let config = ExporterConfig::from_layers(&[&file, &env]).unwrap();
    assert_eq!(api(&config).base_url, "http://env");
    let config = ExporterConfig::from_layers(&[&file]).unwrap();
    assert_eq!(api(&config).base_url, "http://file");
    let config = ExporterConfig::from_layers(&[&Overrides {
        sink: Some("api".into()),
        ..Overrides::default()
    }])
    .unwrap();
    assert_eq!(api(&config).base_url, DEFAULT_BASE_URL);
}

#[test]
fn export_timeout_millis_reaches_the_http_sink() {
    let options = Overrides {
        sink: Some("api".into()),
        export_timeout_millis: Some(250),
        ..Overrides::default()
    };
    let config = ExporterConfig::from_layers(&[&options]).unwrap();
    assert_eq!(api(&config).timeout, Duration::from_millis(250));
    assert_eq!(config.batch.export_timeout, Duration::from_millis(250));
    // The sink chosen after the timeout was set (env timeout, flag sink) gets it too.
    let env = Overrides::from_vars(&vars(&[("TUSK_EXPORT_TIMEOUT_MILLIS", "300")])).unwrap();
    let flags = Overrides {
        sink: Some("api".into()),
        ..Overrides::default()
    };
    let config = ExporterConfig::from_layers(&[&env, &flags]).unwrap();
    assert_eq!(api(&config).timeout, Duration::from_millis(300));
}

#[test]
fn one_sink_vocabulary_with_the_former_spelling_accepted() {
    for name in ["file", "files", " FILE "] {
        let env = Overrides::from_vars(&vars(&[("TUSK_EXPORT_SINK", name)])).unwrap();
        assert_eq!(env.sink.as_deref(), Some("file"));
        let config = ExporterConfig::from_layers(&[&env]).unwrap();
        assert_eq!(config.sink.name(), "file");
    }
    for name in ["fiel", "http", "kafka"] {
        let error = Overrides::from_vars(&vars(&[("TUSK_EXPORT_SINK", name)])).unwrap_err();
        assert_eq!(config_key(error), "TUSK_EXPORT_SINK", "{name}");
        let flags = Overrides {
            sink: Some(name.into()),
            ..Overrides::default()
        };
        let error = ExporterConfig::from_layers(&[&flags]).unwrap_err();
        assert_eq!(config_key(error), "sink");
    }
}

#[test]
fn invalid_values_are_errors_naming_the_option() {
    let error = Overrides::from_vars(&vars(&[("TUSK_MAX_EXPORT_BATCH_SIZE", "lots")])).unwrap_err();
    assert_eq!(config_key(error), "TUSK_MAX_EXPORT_BATCH_SIZE");
    let error = Overrides::from_vars(&vars(&[("TUSK_SCHEDULE_DELAY_MILLIS", "-1")])).unwrap_err();
    assert_eq!(config_key(error), "TUSK_SCHEDULE_DELAY_MILLIS");
    for (name, value) in [
        ("max_pending_requests", 0),
        ("max_export_batch_size", 0),
        ("max_export_batch_bytes", 10),
        ("max_span_bytes", 8),
        ("max_retry_attempts", 0),
    ] {
        let mut options = Overrides {
            sink: Some("api".into()),
            ..Overrides::default()
        };
        options.set_integer(name, value).unwrap();
        let error = ExporterConfig::from_layers(&[&options]).unwrap_err();
        assert_eq!(config_key(error), name);
    }
    let options = Overrides {
        sink: Some("api".into()),
        api_url: Some("ftp://example".into()),
        ..Overrides::default()
    };
    assert_eq!(
        config_key(ExporterConfig::from_layers(&[&options]).unwrap_err()),
        "api_url"
    );
    let mut unknown = Overrides::default();
    assert_eq!(
        config_key(unknown.set_text("queue_size", "1").unwrap_err()),
        "queue_size"
    );
    // A TOML file with an unknown key or a bad sink is refused, without echoing its text.
    let dir = std::env::temp_dir().join(format!("drift-config-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for text in [
        "api_key = \"s3cret\"\nqueue_size = 1\n",
        "sink = \"fiel\"\n",
    ] {
        let path = dir.join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let error = Overrides::from_toml_file(&path).unwrap_err().to_string();
        assert!(!error.contains("s3cret"), "{error}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn options_given_in_code_must_apply_to_the_sink() {
    let options = Overrides {
        api_key: Some("k".into()),
        ..Overrides::default()
    };
    let config = ExporterConfig::from_layers(&[&options]).unwrap();
    assert_eq!(
        config_key(options.check_applies_to(&config.sink).unwrap_err()),
        "api_key"
    );
    let options = Overrides {
        sink: Some("api".into()),
        traces_dir: Some("/tmp/t".into()),
        ..Overrides::default()
    };
    let config = ExporterConfig::from_layers(&[&options]).unwrap();
    assert_eq!(
        config_key(options.check_applies_to(&config.sink).unwrap_err()),
        "traces_dir"
    );
}

#[test]
fn the_table_names_every_override_once() {
    let mut names: Vec<&str> = OPTIONS.iter().map(|spec| spec.name).collect();
    let mut envs: Vec<&str> = OPTIONS.iter().map(|spec| spec.env).collect();
    names.sort_unstable();
    names.dedup();
    envs.sort_unstable();
    envs.dedup();
    assert_eq!(names.len(), OPTIONS.len());
    assert_eq!(envs.len(), OPTIONS.len());
    // Every option is settable from its variable and shows in Debug, the key redacted.
    let all: BTreeMap<String, String> = OPTIONS
        .iter()
        .map(|spec| {
            let value = match spec.kind {
                drift_exporter::OptionKind::Integer => "7",
                drift_exporter::OptionKind::Sink => "api",
                _ => "some-value",
            };
            (spec.env.to_string(), value.to_string())
        })
        .collect();
    let overrides = Overrides::from_vars(&all).unwrap();
    for spec in &OPTIONS {
        assert!(overrides.get_text(spec.name).is_some(), "{}", spec.name);
    }
    let debug = format!("{overrides:?}");
    assert!(debug.contains("<redacted>"), "{debug}");
    let key_value = "some-value";
    assert_eq!(
        debug.matches(key_value).count(),
        OPTIONS
            .iter()
            .filter(|s| !matches!(
                s.kind,
                drift_exporter::OptionKind::Integer | drift_exporter::OptionKind::Sink
            ))
            .count()
            - 1,
        "every text option but the key: {debug}"
    );
}
