use super::*;

#[test]
fn example_config_parses_and_matches_the_defaults() {
    let file = PartialSettings::from_toml(EXAMPLE_CONFIG).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let defaults = PartialSettings {
        secrets_file: Some(dir.path().join("s.toml")),
        ..PartialSettings::default()
    };
    let file = PartialSettings {
        secrets_file: defaults.secrets_file.clone(),
        ..file
    };
    let (from_file, _) = Settings::resolve(file).unwrap();
    let (from_defaults, _) = Settings::resolve(defaults).unwrap();
    assert_eq!(format!("{from_file:?}"), format!("{from_defaults:?}"));
    assert_eq!(from_defaults.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(from_defaults.database_url, "sqlite://botbuilder.db");
}

#[test]
fn higher_layers_win() {
    let flags = PartialSettings {
        bind: Some("0.0.0.0:9000".parse().unwrap()),
        ..PartialSettings::default()
    };
    let file = PartialSettings::from_toml("bind = \"127.0.0.1:1\"\nlog = \"debug\"").unwrap();
    let merged = flags.or(file);
    assert_eq!(merged.bind.unwrap().to_string(), "0.0.0.0:9000");
    assert_eq!(merged.log.as_deref(), Some("debug"));
    assert!(
        PartialSettings::from_toml("bnid = 1").is_err(),
        "typos are refused"
    );
}

#[test]
fn development_generates_and_then_reuses_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let partial = || PartialSettings {
        secrets_file: Some(dir.path().join("secrets.toml")),
        ..PartialSettings::default()
    };
    let (first, notices) = Settings::resolve(partial()).unwrap();
    assert!(matches!(notices[0], SettingsNotice::GeneratedSecrets(_)));
    let (second, notices) = Settings::resolve(partial()).unwrap();
    assert!(matches!(notices[0], SettingsNotice::LoadedSecrets(_)));
    assert_eq!(first.jwt_secret, second.jwt_secret);
    assert!(first.master_key_bytes().is_ok());
    assert!(check_jwt_secret(&first.jwt_secret).is_none());
}

#[test]
fn production_refuses_missing_or_weak_secrets() {
    let prod = |jwt: Option<&str>, key: Option<&str>| PartialSettings {
        env: Some(Environment::Production),
        jwt_secret: jwt.map(Secret::new),
        master_key: key.map(Secret::new),
        ..PartialSettings::default()
    };
    let strong_key = STANDARD.encode((0u8..32).collect::<Vec<_>>());
    let strong_jwt = "kR9v2LqXw8ZtY4nB7mC1pH6sJ3dF0gA5eU";
    let err = Settings::resolve(prod(None, None)).unwrap_err().to_string();
    assert!(err.contains("BOTBUILDER_JWT_SECRET") && err.contains("BOTBUILDER_MASTER_KEY"));
    assert!(Settings::resolve(prod(Some("short"), Some(&strong_key))).is_err());
    assert!(Settings::resolve(prod(Some(&"a".repeat(64)), Some(&strong_key))).is_err());
    assert!(Settings::resolve(prod(Some(strong_jwt), Some("AAAA"))).is_err());
    assert!(Settings::resolve(prod(Some(strong_jwt), Some(&"00".repeat(32)))).is_err());
    assert!(Settings::resolve(prod(Some(strong_jwt), Some(&strong_key))).is_ok());
}

#[test]
fn secrets_never_show_in_debug() {
    let s = Settings::for_tests("sqlite::memory:");
    let debug = format!("{s:?}");
    assert!(!debug.contains(s.jwt_secret.expose()));
}

#[test]
fn vector_graphs_are_saved_beside_a_sqlite_file_by_default() {
    use database::default_index_dir;
    let dir = |url: &str| default_index_dir(url).map(|p| p.display().to_string());
    assert_eq!(
        dir("sqlite://botbuilder.db").as_deref(),
        Some("botbuilder.db.indexes")
    );
    assert_eq!(
        dir("sqlite:///var/lib/bb/main.db?mode=rwc").as_deref(),
        Some("/var/lib/bb/main.db.indexes")
    );
    assert_eq!(dir("sqlite::memory:"), None);
    assert_eq!(dir("sqlite://x.db?mode=memory&cache=shared"), None);
    assert_eq!(dir("postgres://bb@localhost/bb"), None);
}

#[test]
fn the_vector_search_expansion_is_checked_and_defaults_to_the_measured_value() {
    let dir = tempfile::tempdir().unwrap();
    let with = |expansion: Option<usize>| PartialSettings {
        secrets_file: Some(dir.path().join("s.toml")),
        vector_search_expansion: expansion,
        ..PartialSettings::default()
    };
    let resolved = |expansion| Settings::resolve(with(expansion)).map(|(s, _)| s);
    assert_eq!(resolved(None).unwrap().vector_search_expansion, 256);
    assert_eq!(resolved(Some(1024)).unwrap().vector_search_expansion, 1024);
    let file = PartialSettings::from_toml("vector_search_expansion = 512").unwrap();
    assert_eq!(file.vector_search_expansion, Some(512));
    for refused in [0, MAX_VECTOR_SEARCH_EXPANSION + 1] {
        let error = resolved(Some(refused)).unwrap_err().to_string();
        assert!(
            error.contains("BOTBUILDER_VECTOR_SEARCH_EXPANSION"),
            "{refused}: {error}"
        );
    }
}
