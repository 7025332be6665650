//! The Kubernetes manifests of `deploy/kubernetes`, short of a cluster (this
//! machine has none): each overlay is rendered and checked (settings,
//! security, probes, graceful stop, resources, replicas), and `clasp serve`
//! is started with the exact environment a pod of it gets — its ConfigMap and
//! Secret, and the service links of every Service beside it — then probed
//! as kubelet probes it.

mod manifests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{BIN, Workdir, free_port, required};
use crate::shared::{fresh_postgres_database, s3_endpoint};
use manifests::{all, container, container_env, find, render, root, text, values_of};

/// The values the Secrets hold until an operator fills them in.
const PLACEHOLDER: &str = "CHANGE-ME";

/// A secret of at least 32 bytes, for the placeholders of the Secrets.
const TEST_SECRET: &str = "kubernetes-test-secret-0123456789abcdef";

/// The overlays of `deploy/kubernetes`, each a deployment of its own.
const OVERLAYS: [&str; 2] = ["embedded", "scale-out"];

/// The oldest and newest Kubernetes whose API schemas kubernetes-validate
/// ships: the manifests must be valid for both.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

/// The Services' ClusterIPs in the namespace the pods are started in.
const CLUSTER_IPS: [&str; 3] = ["10.96.0.1", "10.96.0.10", "10.96.0.11"];

#[test]
fn every_overlay_is_sound_and_sets_only_documented_settings() {
    let readme = std::fs::read_to_string(root().join("../../README.md")).unwrap();
    let performance = std::fs::read_to_string(root().join("../../docs/performance.md")).unwrap();
    let peak_mib = measured_peak_mib(&performance);
    for overlay in OVERLAYS {
        let objects = render(&root().join(overlay));
        for object in &objects {
            for field in ["apiVersion", "kind"] {
                assert!(object[field].is_string(), "{overlay}: {object}");
            }
            assert!(
                object["metadata"]["name"].is_string(),
                "{overlay}: {object}"
            );
        }
        let deployment = find(&objects, "Deployment", "clasp");
        let spec = &deployment["spec"]["template"]["spec"];
        let c = container(deployment);
        let env = container_env(&objects, c);
        for var in env.keys() {
            let setting = var.strip_suffix("_FILE").unwrap_or(var);
            assert!(
                readme.contains(&format!("/ `{setting}` |")),
                "{overlay}: {var} is no setting of README's table"
            );
        }
        assert_eq!(c["args"], serde_json::json!(["serve"]), "{overlay}");

        let security = &spec["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{overlay}");
        assert_ne!(security["runAsUser"], 0, "{overlay}");
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        let volumes: BTreeSet<&str> = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| text(&v["name"]))
            .collect();
        let mounts: BTreeMap<&str, &str> = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (text(&m["mountPath"]), text(&m["name"])))
            .collect();
        assert!(mounts.values().all(|v| volumes.contains(v)), "{overlay}");
        assert!(
            mounts.contains_key("/tmp"),
            "{overlay}: SQLite's temporary files"
        );
        let data = mounts[env["CLASP_DATA_DIR"].as_str()];

        let (path, port) = probe_target(c, "livenessProbe");
        assert_eq!(
            (path.as_str(), port),
            ("/healthz", listen_port(&env, "CLASP_LISTEN"))
        );
        let (path, port) = probe_target(c, "readinessProbe");
        assert_eq!(
            (path.as_str(), port),
            ("/readyz", listen_port(&env, "CLASP_ADMIN_LISTEN"))
        );
        assert_eq!(probe_target(c, "startupProbe").0, "/healthz");

        let pre_stop = &c["lifecycle"]["preStop"]["exec"]["command"];
        assert_eq!(pre_stop[0], "sleep", "{overlay}: {pre_stop}");
        let sleep: u64 = text(&pre_stop[1]).parse().unwrap();
        let drain: u64 = env["CLASP_SHUTDOWN_TIMEOUT_SECS"].parse().unwrap();
        let grace = spec["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(grace > sleep + drain, "{overlay}: {grace} s of grace");

        let memory = mebibytes(text(&c["resources"]["requests"]["memory"]));
        assert!(memory >= peak_mib, "{overlay}: {memory} MiB < {peak_mib}");
        let limit = mebibytes(text(&c["resources"]["limits"]["memory"]));
        assert!(limit >= memory, "{overlay}");

        let labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(selects(
            &deployment["spec"]["selector"]["matchLabels"],
            labels
        ));
        let clasp = find(&objects, "Service", "clasp");
        for service in all(&objects, "Service") {
            assert!(selects(&service["spec"]["selector"], labels), "{overlay}");
            for port in service["spec"]["ports"].as_array().unwrap() {
                container_port(c, &port["targetPort"]);
            }
        }
        assert_eq!(clasp["spec"]["ports"][0]["targetPort"], "http");
        for (key, value) in values_of(&objects, "Secret", "clasp") {
            assert!(
                value.contains(PLACEHOLDER),
                "{overlay}: {key} is a real secret?"
            );
        }

        let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
        let volume = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == data)
            .unwrap();
        if overlay == "embedded" {
            assert_eq!(replicas, 1, "one SQLite writer");
            assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
            let claim = text(&volume["persistentVolumeClaim"]["claimName"]);
            find(&objects, "PersistentVolumeClaim", claim);
            assert!(volume.get("emptyDir").is_none(), "{volume}");
        } else {
            assert!(replicas >= 2, "{replicas}");
            assert!(env["CLASP_DATABASE_URL"].starts_with("postgres://"));
            assert!(env["CLASP_STORAGE_URL"].starts_with("s3://"));
            let pdbs: Vec<&Value> = all(&objects, "PodDisruptionBudget").collect();
            assert_eq!(pdbs.len(), 1);
            assert!(selects(&pdbs[0]["spec"]["selector"]["matchLabels"], labels));
            assert!(pdbs[0]["spec"]["maxUnavailable"].as_u64().unwrap() < replicas);
        }
    }
}

/// What an API server's schema check would say of each rendered overlay:
/// kubernetes-validate (PyPI, installed by scripts/openapi-tools.sh) in its
/// strict mode, where an unknown or misspelt field fails too.
#[test]
fn every_overlay_validates_against_the_kubernetes_api_schemas() {
    let validate = required("CLASP_TEST_KUBERNETES_VALIDATE");
    let dir = tempfile::tempdir().unwrap();
    for overlay in OVERLAYS {
        let objects = render(&root().join(overlay));
        let path = dir.path().join(format!("{overlay}.yaml"));
        let documents: Vec<String> = objects
            .iter()
            .map(|o| yaml_serde::to_string(o).unwrap())
            .collect();
        std::fs::write(&path, documents.join("---\n")).unwrap();
        for version in KUBERNETES_VERSIONS {
            let out = Command::new(&validate)
                .args(["--strict", "-k", version])
                .arg(&path)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{overlay} on {version}: {said}");
            let passed = said.matches(" passed for resource ").count();
            assert_eq!(passed, objects.len(), "{overlay} on {version}: {said}");
        }
    }
}

/// `Peak RSS of clasp serve during 16 concurrent 30 MiB uploads`, in MiB, as
/// docs/performance.md last measured it.
fn measured_peak_mib(performance: &str) -> f64 {
    let marker = "Peak RSS of `clasp serve` during 16 concurrent 30 MiB uploads: **";
    let at = performance
        .find(marker)
        .expect("docs/performance.md has the peak RSS");
    let rest = &performance[at + marker.len()..];
    rest[..rest.find(" MiB**").unwrap()].parse().unwrap()
}

/// A memory quantity (`128Mi`, `1Gi`) in MiB.
fn mebibytes(quantity: &str) -> f64 {
    let (number, factor) = match quantity.strip_suffix("Gi") {
        Some(n) => (n, 1024.0),
        None => (quantity.strip_suffix("Mi").expect("Mi or Gi"), 1.0),
    };
    number.parse::<f64>().unwrap() * factor
}

/// Whether `selector`'s labels are all among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().unwrap();
    !selector.is_empty() && selector.iter().all(|(k, v)| labels[k] == *v)
}

/// The number of the container port `port` names (by name or number).
fn container_port(container: &Value, port: &Value) -> u64 {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == *port || p["containerPort"] == *port)
        .unwrap_or_else(|| panic!("no container port {port}"))["containerPort"]
        .as_u64()
        .unwrap()
}

/// The path and container port of an HTTP probe.
fn probe_target(container: &Value, probe: &str) -> (String, u64) {
    let get = &container[probe]["httpGet"];
    let port = container_port(container, &get["port"]);
    (text(&get["path"]).to_owned(), port)
}

/// The port of a `HOST:PORT` setting.
fn listen_port(env: &BTreeMap<String, String>, key: &str) -> u64 {
    env[key].rsplit_once(':').unwrap().1.parse().unwrap()
}

/// A `clasp serve` started as kubelet starts the container of `overlay`.
struct Pod {
    child: Child,
    container: Value,
    /// The container ports, and where this machine reaches them.
    ports: BTreeMap<u64, u16>,
    /// Its standard error, kept beside (not in) its volume.
    logs: tempfile::TempDir,
    /// The service-link variables it was given.
    links: BTreeSet<String>,
}

/// Starts the pod of `overlay` with its container's environment, in which
/// `values` replace the Secret's placeholders and what must point at this
/// machine (each replaced variable must be one the manifests set), with the
/// listeners on free ports and the service links of every Service rendered
/// with it and of the cluster's own `kubernetes`.
fn start_pod(overlay: &str, volume: &Path, values: &[(&str, String)]) -> Pod {
    let objects = render(&root().join(overlay));
    let c = container(find(&objects, "Deployment", "clasp")).clone();
    let mut env = container_env(&objects, &c);
    let mut ports = BTreeMap::new();
    for (key, port) in [("CLASP_LISTEN", "http"), ("CLASP_ADMIN_LISTEN", "admin")] {
        let number = container_port(&c, &Value::from(port));
        assert_eq!(
            listen_port(&env, key),
            number,
            "{key} listens on port {port}"
        );
        let here = free_port();
        ports.insert(number, here);
        let host = env[key].rsplit_once(':').unwrap().0.to_owned();
        env.insert(key.to_owned(), format!("{host}:{here}"));
    }
    let secret = values_of(&objects, "Secret", "clasp");
    for (key, value) in values
        .iter()
        .chain(&[("CLASP_DATA_DIR", volume.display().to_string())])
    {
        let was = env.insert((*key).to_owned(), value.clone());
        assert!(was.is_some(), "{overlay} sets no {key}");
    }
    for key in secret.keys() {
        assert!(
            !env[key].contains(PLACEHOLDER),
            "{overlay}: {key} needs a test value"
        );
    }
    let kubernetes = serde_json::json!({
        "metadata": {"name": "kubernetes"},
        "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP"}]},
    });
    let mut services = vec![(&kubernetes, CLUSTER_IPS[0])];
    services.extend(
        all(&objects, "Service")
            .zip(&CLUSTER_IPS[1..])
            .map(|(s, ip)| (s, *ip)),
    );
    assert_eq!(services.len(), 3, "the Services clasp and clasp-admin");
    let links = manifests::service_links(&services);
    let logs = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .args(c["args"].as_array().unwrap().iter().map(text))
        .current_dir(volume)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOSTNAME", format!("clasp-{overlay}-7d9f8b6c5-x2x4z"))
        .envs(&env)
        .envs(links.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(logs.path().join("stderr")).unwrap());
    let links = links
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("CLASP_"))
        .collect();
    Pod {
        child: command.spawn().unwrap(),
        container: c,
        ports,
        logs,
        links,
    }
}

impl Pod {
    /// Probes `probe` as kubelet does (`GET`, any 2xx or 3xx is a success)
    /// until it succeeds, or fails the test after `failureThreshold` ×
    /// `periodSeconds` (at least 30 s on this shared machine).
    async fn until_probe_succeeds(&mut self, probe: &str) {
        let (path, port) = probe_target(&self.container, probe);
        let url = format!("http://127.0.0.1:{}{path}", self.ports[&port]);
        let spec = &self.container[probe];
        let (period, tries) = (
            spec["periodSeconds"].as_u64().unwrap_or(10),
            spec["failureThreshold"].as_u64().unwrap_or(3),
        );
        let deadline = Instant::now() + Duration::from_secs((period * tries).max(30));
        let client = reqwest::Client::new();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("clasp exited ({status}): {}", self.log());
            }
            let answer = client
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success() || a.status().is_redirection()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{probe} {url} fails: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Probes the container as kubelet does from its start: the startup
    /// probe, then liveness and readiness.
    async fn passes_its_probes(&mut self) {
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            self.until_probe_succeeds(probe).await;
        }
    }

    /// What it logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stderr")).unwrap()
    }

    /// SIGTERM, as after the preStop hook; it must exit 0 within the grace.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(self.child.wait().unwrap().success(), "{}", self.log());
        self.log()
    }

    /// Checks that `log` (JSON lines, CLASP_LOG_FORMAT) names every service
    /// link in one info line, and no other variable.
    fn logged_ignoring_its_links(&self, log: &str) {
        let lines: Vec<Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .filter(|l: &Value| {
                l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("service-link"))
            })
            .collect();
        let [line] = lines.as_slice() else {
            panic!("one line on the service links: {log}");
        };
        assert_eq!(line["level"], "INFO");
        let named: BTreeSet<String> = text(&line["fields"]["variables"])
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert_eq!(named, self.links);
        assert!(self.links.contains("CLASP_PORT") && self.links.contains("CLASP_ADMIN_PORT"));
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scale_out_pod_starts_with_its_exact_environment_and_passes_its_probes() {
    let volume = tempfile::tempdir().unwrap();
    let values = [
        ("CLASP_SIGNING_SECRET", TEST_SECRET.to_owned()),
        ("CLASP_ADMIN_TOKEN", TEST_SECRET.to_owned()),
        ("CLASP_DATABASE_URL", fresh_postgres_database()),
        (
            "CLASP_STORAGE_URL",
            format!("s3://{}", required("CLASP_TEST_S3_BUCKET")),
        ),
        ("CLASP_S3_ENDPOINT", s3_endpoint()),
        ("CLASP_S3_REGION", required("CLASP_TEST_S3_REGION")),
        (
            "CLASP_S3_ACCESS_KEY_ID",
            required("CLASP_TEST_S3_ACCESS_KEY_ID"),
        ),
        (
            "CLASP_S3_SECRET_ACCESS_KEY",
            required("CLASP_TEST_S3_SECRET_ACCESS_KEY"),
        ),
    ];
    let mut pod = start_pod("scale-out", volume.path(), &values);
    pod.passes_its_probes().await;
    let log = pod.log();
    pod.logged_ignoring_its_links(&log);
    let log = pod.stop();
    assert!(log.contains("clasp serving"), "{log}");
    assert!(
        std::fs::read_dir(volume.path()).unwrap().next().is_none(),
        "a scale-out pod writes nothing to its volume"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_pod_starts_with_its_exact_environment_and_passes_its_probes() {
    let volume = tempfile::tempdir().unwrap();
    let values = [
        ("CLASP_SIGNING_SECRET", TEST_SECRET.to_owned()),
        ("CLASP_ADMIN_TOKEN", TEST_SECRET.to_owned()),
    ];
    let mut pod = start_pod("embedded", volume.path(), &values);
    pod.passes_its_probes().await;
    let log = pod.log();
    pod.logged_ignoring_its_links(&log);
    pod.stop();
    assert!(
        volume.path().join("clasp.db").is_file(),
        "SQLite on the claim"
    );
}

#[test]
fn a_mistyped_setting_exits_2_naming_the_closest() {
    let work = Workdir::new().with_env("CLASP_LISTNE", "127.0.0.1:8080");
    let out = work.run(&["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CLASP_LISTNE"), "{stderr}");
    assert!(stderr.contains("did you mean CLASP_LISTEN?"), "{stderr}");
}
