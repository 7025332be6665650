//! The tables of `migrations/sqlite`, as diesel sees them.

diesel::table! {
    /// Workspaces of the host product.
    tenants (id) {
        id -> Text,
        slug -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// API keys, by hash.
    api_keys (id) {
        id -> Text,
        tenant_id -> Text,
        prefix -> Text,
        hash -> Text,
        scopes -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Chat sessions, by cookie hash.
    sessions (id) {
        id -> Text,
        tenant_id -> Text,
        user_id -> Text,
        hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Attachment metadata; `number` is the repository-assigned integer id.
    attachments (number) {
        number -> BigInt,
        id -> Text,
        tenant_id -> Text,
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
        tags -> Text,
        locale -> Nullable<Text>,
        uploaded_by -> Text,
        thumbnail_key -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        upload_expires_at -> Nullable<BigInt>,
        kind -> Text,
        file_format -> Text,
        failure_reason -> Nullable<Text>,
    }
}

diesel::table! {
    /// Messages on a ticket; their attachments point at them by `message_id`.
    messages (id) {
        id -> Text,
        tenant_id -> Text,
        ticket_id -> Text,
        body -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// The distinct tags of each attachment, kept by triggers from `attachments.tags`.
    attachment_tags (tenant_id, tag, number) {
        tenant_id -> Text,
        tag -> Text,
        number -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(attachments, attachment_tags);

diesel::table! {
    /// Each tenant's quota limits (NULL: unlimited) and usage, which triggers
    /// on `attachments` keep.
    tenant_quotas (tenant_id) {
        tenant_id -> Text,
        max_bytes -> Nullable<BigInt>,
        max_attachments -> Nullable<BigInt>,
        used_bytes -> BigInt,
        used_attachments -> BigInt,
    }
}
