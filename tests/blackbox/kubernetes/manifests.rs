//! The manifests of `deploy/kubernetes` as a cluster would see them: each
//! overlay rendered as `kubectl apply -k` renders it, the environment kubelet
//! gives the container (its ConfigMap and Secret, and every Service's links).
//! The rendering is the part of kustomize the overlays use (resources, and
//! strategic-merge patches of maps and named lists); a kustomization using
//! anything else fails here rather than being read wrongly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `deploy/kubernetes` of this checkout.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

/// Every YAML document of `path`, as JSON values.
pub fn documents(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    yaml_serde::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// The objects `kubectl apply -k dir` applies.
pub fn render(dir: &Path) -> Vec<Value> {
    let docs = documents(&dir.join("kustomization.yaml"));
    let [kustomization] = docs.as_slice() else {
        panic!("{}: one kustomization", dir.display());
    };
    for key in kustomization.as_object().unwrap().keys() {
        assert!(
            ["apiVersion", "kind", "resources", "patches"].contains(&key.as_str()),
            "{}: `{key}` is beyond what this test renders (resources, patches): \
             teach it to manifests.rs",
            dir.display()
        );
    }
    let mut objects = Vec::new();
    for resource in strings(&kustomization["resources"]) {
        let path = dir.join(resource);
        if path.is_dir() {
            objects.extend(render(&path));
        } else {
            objects.extend(documents(&path));
        }
    }
    for patch in kustomization["patches"].as_array().into_iter().flatten() {
        let keys: Vec<&String> = patch.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["path"], "{}: patches by file only", dir.display());
        for doc in documents(&dir.join(patch["path"].as_str().unwrap())) {
            let (kind, name) = (text(&doc["kind"]), text(&doc["metadata"]["name"]));
            let target = objects
                .iter_mut()
                .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("{}: patch of no {kind} {name}", dir.display()));
            merge(target, &doc, "");
        }
    }
    objects
}

/// Kubernetes' merge keys of the lists these patches may touch (the others
/// are replaced whole, as a strategic merge does).
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "volumes" | "env" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

/// A strategic merge of `patch` into `target` (reached through `field`):
/// maps merge, `null` removes a key, lists with a merge key merge item by item.
fn merge(target: &mut Value, patch: &Value, field: &str) {
    match patch {
        Value::Object(patch) => {
            assert!(
                patch.keys().all(|k| !k.starts_with('$')),
                "patch directives ($patch, …) are beyond this test"
            );
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let target = target.as_object_mut().unwrap();
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value, key);
                }
            }
        }
        Value::Array(items) if target.is_array() && merge_key(field).is_some() => {
            let key = merge_key(field).unwrap();
            let target = target.as_array_mut().unwrap();
            for item in items {
                match target.iter_mut().find(|t| t[key] == item[key]) {
                    Some(existing) => merge(existing, item, ""),
                    None => target.push(item.clone()),
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// The objects of `kind`.
pub fn all<'a>(objects: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
    objects.iter().filter(move |o| o["kind"] == kind)
}

/// The object of `kind` named `name`.
pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} named {name}"))
}

/// The Deployment's only container.
pub fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// A string field.
pub fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value.as_array().into_iter().flatten().map(text)
}

/// A ConfigMap's `data`, or a Secret's `stringData` and (decoded) `data`.
pub fn values_of(objects: &[Value], kind: &str, name: &str) -> BTreeMap<String, String> {
    let object = find(objects, kind, name);
    let mut values = BTreeMap::new();
    for (field, encoded) in [("data", kind == "Secret"), ("stringData", false)] {
        for (key, value) in object[field].as_object().into_iter().flatten() {
            let value = if encoded {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text(value))
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            } else {
                text(value).to_owned()
            };
            values.insert(key.clone(), value);
        }
    }
    values
}

/// The variables `container` sets, as kubelet resolves them: each `envFrom`
/// source in turn, then `env` (values, or `valueFrom` a ConfigMap or Secret
/// key), which wins.
pub fn container_env(objects: &[Value], container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = source["prefix"].as_str().unwrap_or("");
        let (kind, reference) = match (&source["configMapRef"], &source["secretRef"]) {
            (Value::Object(r), _) => ("ConfigMap", r),
            (_, Value::Object(r)) => ("Secret", r),
            _ => panic!("envFrom of neither a ConfigMap nor a Secret: {source}"),
        };
        for (key, value) in values_of(objects, kind, text(&reference["name"])) {
            env.insert(format!("{prefix}{key}"), value);
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let from = &var["valueFrom"];
        let value = if let Some(value) = var["value"].as_str() {
            value.to_owned()
        } else if let Value::Object(r) = &from["configMapKeyRef"] {
            values_of(objects, "ConfigMap", text(&r["name"]))[text(&r["key"])].clone()
        } else if let Value::Object(r) = &from["secretKeyRef"] {
            values_of(objects, "Secret", text(&r["name"]))[text(&r["key"])].clone()
        } else {
            panic!("env of a source this test does not resolve: {var}");
        };
        env.insert(text(&var["name"]).to_owned(), value);
    }
    env
}

/// The service-link variables kubelet gives every pod of a namespace holding
/// `services` (each with its ClusterIP), as its `envvars.FromServices` makes
/// them: `<NAME>_SERVICE_HOST`, `_SERVICE_PORT` (the first port),
/// `_SERVICE_PORT_<PORT NAME>`, `_PORT` (the first port's URL) and, per port,
/// `_PORT_<n>_<PROTO>` with `_PROTO`, `_PORT` and `_ADDR`.
pub fn service_links(services: &[(&Value, &str)]) -> Vec<(String, String)> {
    let upper = |name: &str| name.replace('-', "_").to_ascii_uppercase();
    let mut links = Vec::new();
    for (service, ip) in services {
        let name = upper(text(&service["metadata"]["name"]));
        let ports = service["spec"]["ports"].as_array().unwrap();
        links.push((format!("{name}_SERVICE_HOST"), ip.to_string()));
        links.push((format!("{name}_SERVICE_PORT"), ports[0]["port"].to_string()));
        for port in ports {
            if let Some(port_name) = port["name"].as_str() {
                let key = format!("{name}_SERVICE_PORT_{}", upper(port_name));
                links.push((key, port["port"].to_string()));
            }
        }
        for (i, port) in ports.iter().enumerate() {
            let number = port["port"].as_u64().unwrap();
            let proto = port["protocol"].as_str().unwrap_or("TCP");
            let url = format!("{}://{ip}:{number}", proto.to_ascii_lowercase());
            if i == 0 {
                links.push((format!("{name}_PORT"), url.clone()));
            }
            let prefix = format!("{name}_PORT_{number}_{}", proto.to_ascii_uppercase());
            links.push((prefix.clone(), url));
            links.push((format!("{prefix}_PROTO"), proto.to_ascii_lowercase()));
            links.push((format!("{prefix}_PORT"), number.to_string()));
            links.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
    }
    links
}
