//! `list_page`: every adapter answers what [`ListQuery::select`] picks, for every
//! sort field, order, bound and filter, ties included.

use crate::attachment::{Attachment, AttachmentId, Subject};
use crate::listing::{
    Cursor, Filter, FilterField, ListQuery, ListRequest, Range, SortField, SortKey, SortOrder,
    TextField,
};
use crate::ports::AttachmentRepository;
use crate::state::AttachmentState;
use crate::tenant::TenantId;

use super::{fresh_tenant, instant};

const NAMES: [&str; 6] = [
    "report.pdf",
    "Report.PDF",
    "émile.png",
    "zeta.png",
    "notes",
    "a,b.txt",
];
const TYPES: [&str; 4] = ["application/pdf", "image/png", "text/plain", "image/png"];
const CASES: [&str; 3] = [
    "7f1e2d3c-0000-4000-8000-000000000001",
    "7f1e2d3c-0000-4000-8000-000000000002",
    "7f1e2d3c-0000-4000-8000-000000000003",
];

/// The `i`th attachment of the fixture: few distinct values per field, so every
/// sort has ties.
fn fixture(tenant: TenantId, i: usize) -> Attachment {
    let subject = Subject {
        case_id: Some(CASES[i % CASES.len()].to_owned()),
        ..Subject::default()
    };
    let named = (
        NAMES[i % NAMES.len()].to_owned(),
        TYPES[i % TYPES.len()].to_owned(),
    );
    let at = instant((i / 3) as i64);
    Attachment {
        size_bytes: (i % 5) as u64 * 1000,
        sha256: Some(["ab", "cd"][i % 2].repeat(32)),
        description: i
            .is_multiple_of(3)
            .then(|| "the quarterly report".to_owned()),
        state: AttachmentState::Ready,
        tags: match i % 3 {
            0 => vec!["red".into(), "blue".into()],
            1 => vec!["red".into()],
            _ => vec![],
        },
        locale: Some(["en_US", "de_DE"][i % 2].into()),
        ..Attachment::pending(tenant, subject, named, "key-1".into(), at)
    }
}

fn ids(found: &[Attachment]) -> Vec<AttachmentId> {
    found.iter().map(|a| a.id).collect()
}

async fn check(
    repo: &dyn AttachmentRepository,
    tenant: TenantId,
    all: &[Attachment],
    q: &ListQuery,
) {
    let got = repo.list_page(tenant, q).await.unwrap();
    assert_eq!(ids(&got), ids(&q.select(all)), "{q:?}");
    if let Some(first) = got.first() {
        let stored = all.iter().find(|a| a.id == first.id).unwrap();
        assert_eq!(first.filename, stored.filename, "whole rows");
        assert_eq!(first.tags, stored.tags, "whole rows");
    }
}

/// The cursor standing on `a` for `sort`, with or without its id.
fn cursor_at(sort: SortField, a: &Attachment, with_id: bool) -> SortKey {
    let id = with_id.then_some(a.id);
    fn after<T>(value: T, id: Option<AttachmentId>) -> Range<T> {
        Range {
            after: Some(Cursor { value, id }),
            before: None,
        }
    }
    match sort {
        SortField::CreatedAt => SortKey::CreatedAt(after(a.created_at, id)),
        SortField::Filename => SortKey::Filename(after(a.filename.clone(), id)),
        SortField::Size => SortKey::Size(after(a.size_bytes, id)),
        SortField::UpdatedAt => SortKey::UpdatedAt(after(a.updated_at, id)),
        SortField::Text(field) => SortKey::Text(field, after(field.of(a), id)),
        SortField::Id => SortKey::Id(after(a.id, id)),
    }
}

/// Swaps `after` into `before` (to page backwards).
fn flip(key: SortKey) -> SortKey {
    fn f<T>(r: Range<T>) -> Range<T> {
        Range {
            after: None,
            before: r.after,
        }
    }
    match key {
        SortKey::CreatedAt(r) => SortKey::CreatedAt(f(r)),
        SortKey::Filename(r) => SortKey::Filename(f(r)),
        SortKey::Size(r) => SortKey::Size(f(r)),
        SortKey::UpdatedAt(r) => SortKey::UpdatedAt(f(r)),
        SortKey::Text(field, r) => SortKey::Text(field, f(r)),
        SortKey::Id(r) => SortKey::Id(f(r)),
    }
}

fn plain(sort: SortField, order: SortOrder, limit: usize) -> ListQuery {
    let mut q = ListRequest {
        sort,
        order,
        ..ListRequest::default()
    }
    .validate()
    .unwrap();
    q.limit = limit;
    q
}

/// The `list_page` contract.
pub async fn listing(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let other = fresh_tenant().id;
    let mut all: Vec<Attachment> = (0..25).map(|i| fixture(tenant, i)).collect();
    // Rows that must never be listed: not ready, or another tenant's.
    let mut hidden = fixture(tenant, 3);
    hidden.state = AttachmentState::Uploading;
    let foreign = fixture(other, 3);
    for a in all.iter().chain([&hidden, &foreign]) {
        repo.insert(a).await.unwrap();
    }

    let sorts = [
        SortField::CreatedAt,
        SortField::Filename,
        SortField::Size,
        SortField::UpdatedAt,
        SortField::Text(TextField::ContentType),
        SortField::Text(TextField::Kind),
        SortField::Text(TextField::FileFormat),
        SortField::Text(TextField::NameWithoutExtension),
        SortField::Text(TextField::CaseId),
        SortField::Text(TextField::Description),
        SortField::Text(TextField::Locale),
        SortField::Text(TextField::Sha256),
        SortField::Id,
    ];
    let orders = [SortOrder::Asc, SortOrder::Desc];
    for sort in sorts {
        for order in orders {
            // whole listing, and paging by id-carrying cursors visits each once
            let whole = plain(sort, order, 1000);
            check(repo, tenant, &all, &whole).await;
            assert_eq!(repo.list_page(tenant, &whole).await.unwrap().len(), 25);
            let mut seen = Vec::new();
            let mut q = plain(sort, order, 4);
            loop {
                let page = repo.list_page(tenant, &q).await.unwrap();
                assert_eq!(ids(&page), ids(&q.select(&all)), "{q:?}");
                let Some(last) = page.last() else { break };
                seen.extend(ids(&page));
                let next = cursor_at(sort, last, true);
                q.sort = match order {
                    SortOrder::Asc => next,
                    SortOrder::Desc => flip(next),
                };
            }
            let mut expected = ids(&all);
            expected.sort();
            seen.sort();
            assert_eq!(seen, expected, "{sort:?} {order:?}: each exactly once");

            // bounds without a tie-breaker, and both bounds at once
            for (i, a) in all.iter().enumerate().step_by(4) {
                let mut q = plain(sort, order, 7);
                q.sort = cursor_at(sort, a, i % 8 == 0);
                check(repo, tenant, &all, &q).await;
                q.sort = flip(q.sort.clone());
                check(repo, tenant, &all, &q).await;
                let low = &all[(i + 11) % all.len()];
                let mut both = plain(sort, order, 1000);
                both.sort = match (cursor_at(sort, low, true), flip(cursor_at(sort, a, true))) {
                    (SortKey::CreatedAt(l), SortKey::CreatedAt(h)) => SortKey::CreatedAt(Range {
                        after: l.after,
                        before: h.before,
                    }),
                    (SortKey::Filename(l), SortKey::Filename(h)) => SortKey::Filename(Range {
                        after: l.after,
                        before: h.before,
                    }),
                    (SortKey::Size(l), SortKey::Size(h)) => SortKey::Size(Range {
                        after: l.after,
                        before: h.before,
                    }),
                    (SortKey::UpdatedAt(l), SortKey::UpdatedAt(h)) => SortKey::UpdatedAt(Range {
                        after: l.after,
                        before: h.before,
                    }),
                    (SortKey::Id(l), SortKey::Id(h)) => SortKey::Id(Range {
                        after: l.after,
                        before: h.before,
                    }),
                    (SortKey::Text(field, l), SortKey::Text(_, h)) => SortKey::Text(
                        field,
                        Range {
                            after: l.after,
                            before: h.before,
                        },
                    ),
                    _ => unreachable!("one sort field"),
                };
                check(repo, tenant, &all, &both).await;
            }
        }
    }

    // every filter, alone and together, under every sort
    let filters = [
        (FilterField::CaseId, CASES[1]),
        (FilterField::ContentType, "image/png"),
        (FilterField::Kind, "image"),
        (FilterField::FileFormat, "pdf"),
        (FilterField::Filename, "notes"),
        (FilterField::Tag, "blue"),
        (FilterField::Tag, "red"),
        (FilterField::Tag, "none"),
        (FilterField::FileFormat, ""),
        (FilterField::NameWithoutExtension, "Report"),
        (FilterField::NameWithoutExtension, "notes"),
        (FilterField::Description, "the quarterly report"),
        (FilterField::Locale, "de_DE"),
        (
            FilterField::Sha256,
            "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        ),
        (FilterField::Id, "not-an-id"),
    ];
    for sort in sorts {
        for (field, value) in filters {
            let mut q = plain(sort, SortOrder::Desc, 5);
            q.filters = vec![Filter {
                field,
                value: value.into(),
            }];
            check(repo, tenant, &all, &q).await;
            assert!(
                !q.select(&all).is_empty() || value == "none" || value == "not-an-id",
                "{field:?} {value} matches some"
            );
        }
        let by_id = all[7].id.to_string();
        let mut q = plain(sort, SortOrder::Asc, 5);
        q.filters = vec![Filter {
            field: FilterField::Id,
            value: by_id,
        }];
        check(repo, tenant, &all, &q).await;
        assert_eq!(q.select(&all).len(), 1);
        let mut q = plain(sort, SortOrder::Asc, 1000);
        q.filters = vec![
            Filter {
                field: FilterField::Tag,
                value: "red".into(),
            },
            Filter {
                field: FilterField::Kind,
                value: "image".into(),
            },
        ];
        check(repo, tenant, &all, &q).await;
    }

    // tags follow updates and deletes
    let tagged = plain(SortField::CreatedAt, SortOrder::Asc, 1000);
    let by_tag = |tag: &str| {
        let mut q = tagged.clone();
        q.filters = vec![Filter {
            field: FilterField::Tag,
            value: tag.into(),
        }];
        q
    };
    let mut retagged = all[2].clone();
    retagged.number = repo.get(tenant, retagged.id).await.unwrap().unwrap().number;
    retagged.tags = vec!["green".into(), "green".into()];
    assert!(repo.update(&retagged, None).await.unwrap());
    all[2] = retagged.clone();
    check(repo, tenant, &all, &by_tag("green")).await;
    assert_eq!(
        repo.list_page(tenant, &by_tag("green"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(repo.delete(tenant, all[0].id, None).await.unwrap());
    all.remove(0);
    check(repo, tenant, &all, &by_tag("blue")).await;
    check(repo, tenant, &all, &tagged).await;
}
