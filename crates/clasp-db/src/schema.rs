//! The tables of `migrations/sqlite` and `migrations/postgres`, as diesel sees
//! them: one schema, whose ids, moments and tags are the SQL types of
//! [`crate::sql`], stored each backend's way.

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// Workspaces of the host product.
    tenants (id) {
        id -> Id,
        slug -> Text,
        created_at -> Moment,
        deleting_since -> Nullable<Moment>,
        allowed_types -> Nullable<Tags>,
        max_upload_bytes -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// API keys, by hash.
    api_keys (id) {
        id -> Id,
        tenant_id -> Id,
        prefix -> Text,
        hash -> Text,
        scopes -> Text,
        created_at -> Moment,
        revoked_at -> Nullable<Moment>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// Chat sessions, by cookie hash.
    sessions (id) {
        id -> Id,
        tenant_id -> Id,
        user_id -> Text,
        hash -> Text,
        created_at -> Moment,
        expires_at -> Moment,
        revoked_at -> Nullable<Moment>,
        rooms -> Tags,
        all_rooms -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// Attachment metadata; `number` is the row's key, `tenant_number` the
    /// integer id clients see, counted within the tenant (set by a trigger).
    attachments (number) {
        number -> BigInt,
        tenant_number -> Nullable<BigInt>,
        id -> Id,
        tenant_id -> Id,
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
        tags -> Tags,
        locale -> Nullable<Text>,
        uploaded_by -> Text,
        thumbnail_key -> Nullable<Text>,
        created_at -> Moment,
        updated_at -> Moment,
        upload_expires_at -> Nullable<Moment>,
        kind -> Text,
        file_format -> Text,
        name_stem -> Text,
        failure_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// Messages on a ticket; their attachments point at them by `message_id`.
    messages (id) {
        id -> Id,
        tenant_id -> Id,
        ticket_id -> Text,
        body -> Text,
        created_at -> Moment,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// The distinct tags of each attachment, kept by triggers from
    /// `attachments.tags` (SQLite only: PostgreSQL indexes the array itself).
    attachment_tags (tenant_id, tag, number) {
        tenant_id -> Id,
        tag -> Text,
        number -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(attachments, attachment_tags);

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// Each tenant's quota limits (NULL: unlimited) and usage, which triggers
    /// on `attachments` keep.
    tenant_quotas (tenant_id) {
        tenant_id -> Id,
        max_bytes -> Nullable<BigInt>,
        max_attachments -> Nullable<BigInt>,
        used_bytes -> BigInt,
        used_attachments -> BigInt,
        last_number -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// Each tenant's webhooks; `events` lists kinds between commas.
    webhooks (id) {
        id -> Id,
        tenant_id -> Id,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_at -> Moment,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// The outbox: one row per event and subscribed webhook.
    webhook_deliveries (event_id, webhook_id) {
        event_id -> Id,
        webhook_id -> Id,
        tenant_id -> Id,
        event_type -> Text,
        url -> Text,
        secret -> Text,
        payload -> Text,
        attempts -> Integer,
        state -> Text,
        next_at -> Moment,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Moment,
    }
}

diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries);

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::types::*;

    /// How far each resumable (tus) upload has got.
    resumable_uploads (attachment_id) {
        attachment_id -> Id,
        tenant_id -> Id,
        length -> BigInt,
        received -> BigInt,
        parts -> Integer,
        attempts -> Integer,
        stored_by -> Text,
    }
}
