//! S3's browser-form upload ("POST Object" with a SigV4-signed POST policy):
//! the same one-time upload as the presigned PUT, for clients that POST, as
//! seed 000 allows ("Upload the file with a PUT or POST to the given URL").
//!
//! object_store signs requests but not POST policies, and aws-sigv4 signs
//! only requests too; but a POST policy is signed with the very SigV4 key, so
//! aws-sigv4's `generate_signing_key` and `calculate_signature` do the
//! cryptography and only the policy document is assembled here, as AWS
//! documents it ("Creating a POST policy", "Calculating a signature").

use std::time::SystemTime;

use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// What one POST policy allows: exactly one object, of one type and one size,
/// until one instant.
pub(super) struct PostPolicy<'a> {
    /// The bucket's name.
    pub(super) bucket: &'a str,
    /// The object key the form must name.
    pub(super) key: &'a str,
    /// The type the form's `Content-Type` field must have.
    pub(super) content_type: &'a str,
    /// The file's size in bytes, neither more nor less.
    pub(super) size: u64,
    /// When the policy stops working.
    pub(super) expires_at: OffsetDateTime,
}

/// The credential a policy is signed with.
pub(super) struct Signer<'a> {
    pub(super) key_id: &'a str,
    pub(super) secret_key: &'a str,
    pub(super) token: Option<&'a str>,
    pub(super) region: &'a str,
    pub(super) signed_at: SystemTime,
}

impl PostPolicy<'_> {
    /// The form's fields, in the order AWS's examples give them, ending with
    /// the policy and its signature (the file goes after them).
    pub(super) fn fields(&self, signer: &Signer<'_>) -> Vec<(String, String)> {
        let signed_at = OffsetDateTime::from(signer.signed_at);
        let date = signed_at
            .format(format_description!("[year][month][day]"))
            .unwrap_or_default();
        let amz_date = signed_at
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        let credential = format!("{}/{date}/{}/s3/aws4_request", signer.key_id, signer.region);
        let mut fields = vec![
            ("key".to_owned(), self.key.to_owned()),
            ("Content-Type".to_owned(), self.content_type.to_owned()),
            ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            ("x-amz-credential".to_owned(), credential),
            ("x-amz-date".to_owned(), amz_date),
        ];
        if let Some(token) = signer.token {
            fields.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        let policy = STANDARD.encode(self.document(&fields).to_string());
        let key =
            v4::generate_signing_key(signer.secret_key, signer.signed_at, signer.region, "s3");
        let signature = v4::calculate_signature(key, policy.as_bytes());
        fields.push(("policy".to_owned(), policy));
        fields.push(("x-amz-signature".to_owned(), signature));
        fields
    }

    /// The policy: the bucket, every field exactly as given, and the size as
    /// a range of one value.
    fn document(&self, fields: &[(String, String)]) -> Value {
        let expiration = self
            .expires_at
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].000Z"
            ))
            .unwrap_or_default();
        let mut conditions = vec![json!({ "bucket": self.bucket })];
        conditions.extend(fields.iter().map(|(name, value)| json!({ name: value })));
        conditions.push(json!(["content-length-range", self.size, self.size]));
        json!({ "expiration": expiration, "conditions": conditions })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_binds_key_type_size_and_credential() {
        let policy = PostPolicy {
            bucket: "b",
            key: "t/uploads/a",
            content_type: "image/png",
            size: 42,
            expires_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        };
        let signer = Signer {
            key_id: "AKID",
            secret_key: "secret",
            token: Some("session"),
            region: "eu-west-1",
            signed_at: OffsetDateTime::from_unix_timestamp(1_799_999_000)
                .unwrap()
                .into(),
        };
        let fields = policy.fields(&signer);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            field("x-amz-credential"),
            "AKID/20270115/eu-west-1/s3/aws4_request"
        );
        assert_eq!(field("x-amz-security-token"), "session");
        let document: Value =
            serde_json::from_slice(&STANDARD.decode(field("policy")).unwrap()).unwrap();
        assert_eq!(document["expiration"], "2027-01-15T08:00:00.000Z");
        let conditions = document["conditions"].as_array().unwrap();
        for wanted in [
            json!({ "bucket": "b" }),
            json!({ "key": "t/uploads/a" }),
            json!({ "Content-Type": "image/png" }),
            json!({ "x-amz-security-token": "session" }),
            json!(["content-length-range", 42, 42]),
        ] {
            assert!(conditions.contains(&wanted), "{wanted} in {conditions:?}");
        }
        assert_eq!(fields.last().unwrap().0, "x-amz-signature");
    }
}
