//! Loading and checking the configuration layers.

use super::*;
use figment::Jail;

fn load_in(
    jail: &mut Jail,
    file: Option<&str>,
    vars: &[(&str, &str)],
) -> Result<Config, ConfigError> {
    jail.clear_env();
    for (k, v) in vars {
        jail.set_env(k, v);
    }
    let path = file.map(|text| {
        jail.create_file("c.toml", text).unwrap();
        jail.directory().join("c.toml")
    });
    Config::load_from(path, Env::prefixed("CLASP_")).map(|(config, _)| config)
}

/// Every key of [`Config`] is documented in the README's table and in the
/// embedded defaults file, so the reference cannot drift from the code.
#[test]
fn every_key_is_documented() {
    let readme = include_str!("../../../../README.md");
    Jail::expect_with(|jail| {
        let c = load_in(jail, None, &[]).unwrap();
        let keys = serde_json::to_value(&c).unwrap();
        let keys = keys.as_object().unwrap();
        assert!(keys.len() > 20, "{keys:?}");
        for key in keys.keys() {
            let row = format!("| `{key}` / `CLASP_{}` |", key.to_uppercase());
            assert!(readme.contains(&row), "README lacks {row}");
            assert!(
                DEFAULT_TOML.contains(&format!("{key} =")),
                "default.toml lacks {key}"
            );
        }
        Ok(())
    });
}

#[test]
fn defaults_are_embedded() {
    Jail::expect_with(|jail| {
        let c = load_in(jail, None, &[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.admin_listen, "127.0.0.1:9090");
        assert_eq!(c.admin_token, None);
        assert_eq!(c.database_url(), "sqlite://./data/clasp.db");
        assert_eq!(c.storage_url(), "file://./data/blobs");
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
        assert_eq!(c.max_upload_bytes, 31_457_280);
        assert_eq!(c.upload_url_ttl_secs, 900);
        assert_eq!(c.upload_url_ttl(), time::Duration::minutes(15));
        assert_eq!(c.sweep_interval_secs, 60);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.durability, Durability::Fsync);
        assert_eq!(
            (c.max_uploads_per_tenant, c.max_uploads_per_credential),
            (128, 64)
        );
        assert_eq!(c.upload_deadline_secs, 600);
        assert!(c.previous_signing_secrets().is_empty());
        Ok(())
    });
}

#[test]
fn file_then_environment() {
    Jail::expect_with(|jail| {
        let file = "listen = \"0.0.0.0:1\"\nmax_upload_bytes = 5\nlog_format = \"json\"\n\
                    durability = \"fast\"\n";
        let c = load_in(
            jail,
            Some(file),
            &[
                ("CLASP_LISTEN", "127.0.0.1:9"),
                ("CLASP_SIGNING_SECRET", "12345678901234567890123456789012"),
            ],
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9");
        assert_eq!(c.max_upload_bytes, 5);
        assert_eq!(
            c.allowlist().unwrap(),
            clasp_domain::validation::DEFAULT_ALLOWED_TYPES
        );
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.durability, Durability::Fast);
        assert_eq!(
            c.signing_secret.as_deref(),
            Some("12345678901234567890123456789012")
        );
        Ok(())
    });
}

/// A type without a magic-byte rule is allowed only on the operator's word.
#[test]
fn unchecked_types_need_trust_declared_types() {
    Jail::expect_with(|jail| {
        let trusted = [
            ("CLASP_ALLOWED_TYPES", "text/csv, application/x-custom"),
            ("CLASP_TRUST_DECLARED_TYPES", "true"),
        ];
        let c = load_in(jail, None, &trusted).unwrap();
        assert_eq!(c.allowlist().unwrap(), ["text/csv", "application/x-custom"]);
        Ok(())
    });
}

#[test]
fn bad_configuration_is_refused() {
    Jail::expect_with(|jail| {
        assert!(matches!(
            load_in(jail, None, &[("CLASP_SIGNING_SECRET", "short")]),
            Err(ConfigError::ShortSecret("signing_secret", 5))
        ));
        assert!(matches!(
            load_in(jail, None, &[("CLASP_ADMIN_TOKEN", "short-token")]),
            Err(ConfigError::ShortSecret("admin_token", 11))
        ));
        let previous = "12345678901234567890123456789012, short";
        assert!(matches!(
            load_in(jail, None, &[("CLASP_SIGNING_SECRET_PREVIOUS", previous)]),
            Err(ConfigError::ShortSecret(_, 5))
        ));
        assert!(matches!(
            load_in(jail, Some("lisen = \"x\""), &[]),
            Err(ConfigError::Invalid(_))
        ));
        for (key, value) in [
            ("CLASP_MAX_UPLOAD_BYTES", "lots"),
            ("CLASP_LOG_FORMAT", "xml"),
            ("CLASP_DURABILITY", "sometimes"),
            ("CLASP_S3_ACCESS_KEY_ID", "only-half"),
            ("CLASP_DATABASE_POOL_SIZE", "0"),
            ("CLASP_UPLOAD_URL_TTL_SECS", "0"),
            ("CLASP_UPLOAD_URL_TTL_SECS", "604801"),
            ("CLASP_SWEEP_INTERVAL_SECS", "0"),
            ("CLASP_CREDENTIAL_CACHE_SECS", "61"),
            ("CLASP_SWEEP_INTERVAL_SECS", "soon"),
            ("CLASP_CLAMAV_ADDRESS", "127.0.0.1:3310"),
            ("CLASP_CLAMAV_ADDRESS", "unix:relative.sock"),
            ("CLASP_SCAN_TIMEOUT_SECS", "0"),
            ("CLASP_ALLOWED_TYPES", ""),
            ("CLASP_ALLOWED_TYPES", "image/png,png"),
            ("CLASP_ALLOWED_TYPES", "application/x-custom"),
            ("CLASP_MAX_UPLOAD_BYTES", "5368709121"),
        ] {
            assert!(
                matches!(
                    load_in(jail, None, &[(key, value)]),
                    Err(ConfigError::Invalid(_))
                ),
                "{key}={value}"
            );
        }
        let scanning = load_in(
            jail,
            None,
            &[("CLASP_CLAMAV_ADDRESS", "unix:/run/clamd.sock")],
        )
        .unwrap();
        assert_eq!(
            scanning.clamav(),
            Some(Ok(ClamdAddress::Unix("/run/clamd.sock".into())))
        );
        assert_eq!(scanning.scan_timeout_secs, 60);
        assert_eq!(load_in(jail, None, &[]).unwrap().clamav(), None);
        let short = load_in(
            jail,
            None,
            &[
                ("CLASP_UPLOAD_URL_TTL_SECS", "2"),
                ("CLASP_SWEEP_INTERVAL_SECS", "1"),
            ],
        )
        .unwrap();
        assert_eq!(short.upload_url_ttl(), time::Duration::seconds(2));
        assert_eq!(short.sweep_interval_secs, 1);
        assert!(matches!(
            Config::load_from(
                Some(PathBuf::from("/nonexistent/clasp.toml")),
                Env::prefixed("CLASP_")
            ),
            Err(ConfigError::MissingFile(_))
        ));
        Ok(())
    });
}

/// Each secret may come from a file, as container platforms mount them; a
/// secret given both ways, or a file that cannot be read, stops the start.
#[test]
fn secrets_are_read_from_files() {
    Jail::expect_with(|jail| {
        let secret = "s".repeat(40);
        let token = "t".repeat(40);
        jail.create_file("signing", &format!("{secret}\n"))?;
        jail.create_file("token", &format!("{token}\r\n"))?;
        jail.create_file("previous", &"p".repeat(32))?;
        jail.create_file("s3", "s3-secret")?;
        jail.create_file("empty", "\n")?;
        let dir = jail.directory().to_owned();
        let file = |name: &str| dir.join(name).display().to_string();
        let (signing, token_file, previous, s3, empty) = (
            file("signing"),
            file("token"),
            file("previous"),
            file("s3"),
            file("empty"),
        );
        let c = load_in(
            jail,
            None,
            &[
                ("CLASP_SIGNING_SECRET_FILE", &signing),
                ("CLASP_ADMIN_TOKEN_FILE", &token_file),
                ("CLASP_SIGNING_SECRET_PREVIOUS_FILE", &previous),
                ("CLASP_S3_ACCESS_KEY_ID", "key"),
                ("CLASP_S3_SECRET_ACCESS_KEY_FILE", &s3),
            ],
        )
        .unwrap();
        assert_eq!(c.signing_secret.as_deref(), Some(secret.as_str()));
        assert_eq!(c.admin_token.as_deref(), Some(token.as_str()));
        assert_eq!(c.previous_signing_secrets(), ["p".repeat(32)]);
        assert_eq!(c.s3_secret_access_key.as_deref(), Some("s3-secret"));
        for vars in [
            vec![
                ("CLASP_SIGNING_SECRET_FILE", signing.as_str()),
                ("CLASP_SIGNING_SECRET", secret.as_str()),
            ],
            vec![("CLASP_ADMIN_TOKEN_FILE", "/nonexistent/token")],
            vec![("CLASP_ADMIN_TOKEN_FILE", empty.as_str())],
        ] {
            assert!(
                matches!(load_in(jail, None, &vars), Err(ConfigError::Invalid(_))),
                "{vars:?}"
            );
        }
        jail.create_file("short", "short\n")?;
        let short = file("short");
        assert!(matches!(
            load_in(jail, None, &[("CLASP_SIGNING_SECRET_FILE", &short)]),
            Err(ConfigError::ShortSecret("signing_secret", 5))
        ));
        Ok(())
    });
}

/// The PostgreSQL password goes into the URL's userinfo, escaped; a URL that
/// has one already, or no user, or is not PostgreSQL's, is refused with it.
#[test]
fn the_database_password_joins_the_url() {
    Jail::expect_with(|jail| {
        jail.create_file("pg", "p@ss:w/rd%\n")?;
        let pg = jail.directory().join("pg").display().to_string();
        let c = load_in(
            jail,
            None,
            &[
                (
                    "CLASP_DATABASE_URL",
                    "postgres://clasp@db:5432/clasp?sslmode=require",
                ),
                ("CLASP_DATABASE_PASSWORD_FILE", &pg),
            ],
        )
        .unwrap();
        assert_eq!(
            c.database_url(),
            "postgres://clasp:p%40ss%3Aw%2Frd%25@db:5432/clasp?sslmode=require"
        );
        let tls = load_in(
            jail,
            None,
            &[
                ("CLASP_DATABASE_URL", "postgres://clasp@db/clasp"),
                ("CLASP_DATABASE_SSLMODE", "verify-full"),
                ("CLASP_DATABASE_SSLROOTCERT", "/etc/ssl/rds ca.pem"),
            ],
        )
        .unwrap();
        assert_eq!(
            tls.database_url(),
            "postgres://clasp@db/clasp?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Frds%20ca.pem"
        );
        for vars in [
            [
                ("CLASP_DATABASE_URL", "postgres://db/c?sslmode=require"),
                ("CLASP_DATABASE_SSLMODE", "disable"),
            ],
            [
                ("CLASP_DATABASE_URL", "sqlite://./c.db"),
                ("CLASP_DATABASE_SSLMODE", "require"),
            ],
        ] {
            assert!(
                matches!(load_in(jail, None, &vars), Err(ConfigError::Invalid(_))),
                "{vars:?}"
            );
        }
        for url in [
            "postgres://clasp:old@db/clasp",
            "postgres://db/clasp",
            "sqlite://./data/clasp.db",
        ] {
            assert!(
                matches!(
                    load_in(
                        jail,
                        None,
                        &[
                            ("CLASP_DATABASE_URL", url),
                            ("CLASP_DATABASE_PASSWORD", "pw")
                        ]
                    ),
                    Err(ConfigError::Invalid(_))
                ),
                "{url}"
            );
        }
        Ok(())
    });
}

/// The message of a configuration refused by `load_in`.
fn refusal(jail: &mut Jail, file: Option<&str>, vars: &[(&str, &str)]) -> String {
    match load_in(jail, file, vars) {
        Err(ConfigError::Invalid(message)) => message,
        other => panic!("{vars:?}: {other:?}"),
    }
}

#[test]
fn service_links_are_ignored_and_named_and_settings_still_apply() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        for (key, value) in [
            ("CLASP_PORT", "tcp://10.0.0.1:80"),
            ("CLASP_PORT_80_TCP_ADDR", "10.0.0.1"),
            ("CLASP_SERVICE_HOST", "10.0.0.1"),
            ("CLASP_SERVICE_PORT_HTTP", "80"),
            ("CLASP_ADMIN_PORT", "tcp://10.0.0.2:9090"),
            ("CLASP_ADMIN_SERVICE_PORT", "9090"),
            ("CLASP_ADMIN_LISTEN", "0.0.0.0:9191"),
            ("CLASP_LISTEN", "127.0.0.1:8181"),
        ] {
            jail.set_env(key, value);
        }
        let (c, ignored) = Config::load_from(None, Env::prefixed("CLASP_")).unwrap();
        assert_eq!(
            ignored,
            [
                "CLASP_ADMIN_PORT",
                "CLASP_ADMIN_SERVICE_PORT",
                "CLASP_PORT",
                "CLASP_PORT_80_TCP_ADDR",
                "CLASP_SERVICE_HOST",
                "CLASP_SERVICE_PORT_HTTP",
            ]
        );
        assert_eq!(
            (c.listen.as_str(), c.admin_listen.as_str()),
            ("127.0.0.1:8181", "0.0.0.0:9191")
        );
        Ok(())
    });
}

/// No setting, now or added later, has a name kubelet could give a service
/// link, so ignoring those can never swallow one.
#[test]
fn no_setting_is_shaped_like_a_service_link() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("CLASP_NO_SUCH_SETTING", "1");
        let error = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Env::prefixed("CLASP_"))
            .extract::<Config>()
            .unwrap_err();
        let Some(figment::error::Kind::UnknownField(_, settings)) =
            error.into_iter().map(|e| e.kind).next()
        else {
            panic!("figment names the settings of an unknown field");
        };
        assert!(settings.len() > 40 && settings.contains(&"admin_listen"));
        for setting in settings {
            for value in ["tcp://10.0.0.1:80", "10.0.0.1", "80", "tcp"] {
                assert!(
                    !environment::is_service_link(setting, value),
                    "{setting}={value}"
                );
            }
        }
        Ok(())
    });
}

#[test]
fn an_unknown_key_is_refused_with_the_closest_setting() {
    Jail::expect_with(|jail| {
        let message = refusal(jail, None, &[("CLASP_LISTNE", "127.0.0.1:8080")]);
        assert!(message.contains("CLASP_LISTNE"), "{message}");
        assert!(
            message.contains("no such setting; did you mean CLASP_LISTEN?"),
            "{message}"
        );
        let message = refusal(jail, None, &[("CLASP_ADMIN_PORT", "9090")]);
        assert!(
            message.contains("unknown field CLASP_ADMIN_PORT"),
            "{message}"
        );
        let message = refusal(jail, None, &[("CLASP_FROBNICATE", "1")]);
        assert!(!message.contains("did you mean"), "{message}");
        let message = refusal(jail, Some("admin_lisen = \"x\""), &[]);
        assert!(
            message.contains("did you mean `admin_listen`?"),
            "{message}"
        );
        Ok(())
    });
}
