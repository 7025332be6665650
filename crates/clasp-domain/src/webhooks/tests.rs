use super::*;

fn allow(hosts: &[&str]) -> HostAllowlist {
    HostAllowlist::new(hosts.iter().map(|h| h.to_string()))
}

#[test]
fn only_allowed_hosts_of_http_urls_pass() {
    let list = allow(&["hooks.example.com", "*.internal.test", "127.0.0.1", "[::1]"]);
    assert_eq!(list.check("https://HOOKS.example.com/in"), Ok(()));
    assert_eq!(list.check("http://127.0.0.1:9000/x"), Ok(()));
    assert_eq!(list.check("http://[::1]:9000/x"), Ok(()));
    assert_eq!(list.check("https://a.b.internal.test/"), Ok(()));
    for refused in [
        "https://internal.test/",
        "https://evilinternal.test/",
        "https://hooks.example.com.evil.net/",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/",
    ] {
        assert!(
            matches!(list.check(refused), Err(WebhookError::HostNotAllowed(_))),
            "{refused}"
        );
    }
    for invalid in [
        "ftp://hooks.example.com/",
        "https://user:pw@hooks.example.com/",
        "not a url",
        "file:///etc/passwd",
    ] {
        assert!(
            matches!(list.check(invalid), Err(WebhookError::InvalidUrl(_))),
            "{invalid}"
        );
    }
    let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_BYTES));
    assert!(matches!(
        list.check(&long),
        Err(WebhookError::InvalidUrl(_))
    ));
}

#[test]
fn an_empty_allowlist_admits_nothing() {
    assert!(matches!(
        HostAllowlist::default().check("https://hooks.example.com/"),
        Err(WebhookError::HostNotAllowed(_))
    ));
}

#[test]
fn the_default_schedule_retries_for_more_than_a_day_then_fails() {
    let schedule = RetrySchedule::default();
    let total: Duration = schedule.0.iter().sum();
    assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
    let now = OffsetDateTime::UNIX_EPOCH;
    let mut delivery = Delivery {
        event_id: Uuid::now_v7(),
        webhook_id: Uuid::now_v7(),
        tenant_id: TenantId(Uuid::now_v7()),
        event_type: "attachment.ready".into(),
        url: "http://127.0.0.1/".into(),
        secret: new_secret(),
        payload: "{}".into(),
        attempts: 0,
        state: DeliveryState::Pending,
        next_at: now,
        last_status: None,
        last_error: None,
        created_at: now,
    };
    for step in &schedule.0 {
        delivery = delivery.after(Attempt::Failed(Some(500), "500".into()), now, &schedule);
        assert_eq!(delivery.state, DeliveryState::Pending);
        let wait = delivery.next_at - now;
        assert!(
            wait >= step.mul_f64(0.8) && wait <= step.mul_f64(1.2),
            "{wait:?} {step:?}"
        );
    }
    let failed = delivery
        .clone()
        .after(Attempt::Failed(None, "refused".into()), now, &schedule);
    assert_eq!(failed.state, DeliveryState::Failed);
    assert_eq!(failed.attempts, 8);
    let delivered = delivery.after(Attempt::Delivered(204), now, &schedule);
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.last_status, Some(204));
    assert_eq!(delivered.last_error, None);
}

#[test]
fn events_are_known_kinds_at_least_one() {
    assert!(kinds(&[]).is_err());
    assert!(kinds(&["attachment.readyy".into()]).is_err());
    assert_eq!(
        kinds(&["tenant.deleted".into(), "tenant.deleted".into()]),
        Ok(vec![EventKind::TenantDeleted])
    );
}

#[test]
fn secrets_are_standard_webhooks_secrets() {
    let secret = new_secret();
    let key = secret.strip_prefix("whsec_").map(|b64| {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(|k| k.len())
    });
    assert_eq!(key, Some(Ok(32)));
    assert_ne!(secret, new_secret());
}
