//! The tables of `migrations/postgres`, as diesel sees them.

diesel::table! {
    /// Workspaces of the host product.
    tenants (id) {
        id -> Uuid,
        slug -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// API keys, by hash.
    api_keys (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        prefix -> Text,
        hash -> Text,
        scopes -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Chat sessions, by cookie hash.
    sessions (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Text,
        hash -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Attachment metadata; `number` is the repository-assigned integer id.
    attachments (number) {
        number -> BigInt,
        id -> Uuid,
        tenant_id -> Uuid,
        ticket_id -> Nullable<Text>,
        message_id -> Nullable<Text>,
        case_id -> Nullable<Text>,
        room_id -> Nullable<Text>,
        filename -> Text,
        content_type -> Text,
        sniffed_type -> Nullable<Text>,
        size_bytes -> BigInt,
        sha256 -> Nullable<Text>,
        declared_sha256 -> Nullable<Text>,
        state -> Text,
        description -> Nullable<Text>,
        tags -> Array<Text>,
        locale -> Nullable<Text>,
        uploaded_by -> Text,
        thumbnail_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        upload_expires_at -> Nullable<Timestamptz>,
        kind -> Text,
        file_format -> Text,
        failure_reason -> Nullable<Text>,
    }
}

diesel::table! {
    /// Messages on a ticket; their attachments point at them by `message_id`.
    messages (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        ticket_id -> Text,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Each tenant's quota limits (NULL: unlimited) and usage, which a trigger
    /// on `attachments` keeps.
    tenant_quotas (tenant_id) {
        tenant_id -> Uuid,
        max_bytes -> Nullable<BigInt>,
        max_attachments -> Nullable<BigInt>,
        used_bytes -> BigInt,
        used_attachments -> BigInt,
    }
}
