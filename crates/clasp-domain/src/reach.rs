//! Which chat attachments an end user's session reaches: the rooms the host
//! product says the user is in, the user's own uploads, or — for moderators and
//! services — every chat attachment of the tenant. A chat number names an
//! attachment of the tenant; whether this session may see it is decided here,
//! once, and what it may not see is "not found", exactly like what does not
//! exist (`docs/dialects/chat.md`).

use crate::attachment::Attachment;

/// The most rooms one session may name: a host with more gives the user an
/// all-rooms session or several sessions, and a request's check stays cheap.
pub const MAX_ROOMS: usize = 1000;

/// What a session reaches besides its own uploads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Reach {
    /// Only its own uploads, made without a room.
    #[default]
    Own,
    /// The chat attachments of these rooms (integer ids, as text), and its own.
    Rooms(Vec<String>),
    /// Every chat attachment of the tenant, and every other dialect's by number:
    /// a moderator or a service.
    AllRooms,
}

/// Why a session's rooms cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRooms {
    /// Too few, too many, or not integers.
    #[error("a session names 1 to {MAX_ROOMS} rooms, each an integer id")]
    Rooms,
    /// A session reaching its rooms and also every room is a contradiction a
    /// host must resolve, not one Clasp guesses at.
    #[error("rooms and all_rooms exclude each other")]
    Both,
}

impl Reach {
    /// The reach a host asks for: named `rooms`, every room, or (neither)
    /// the user's own uploads. The CLI and the admin API both ask this way.
    pub fn chosen<S: AsRef<str>>(
        rooms: Option<&[S]>,
        all_rooms: bool,
    ) -> Result<Reach, InvalidRooms> {
        match (rooms, all_rooms) {
            (Some(_), true) => Err(InvalidRooms::Both),
            (Some(rooms), false) => Reach::rooms(rooms),
            (None, true) => Ok(Reach::AllRooms),
            (None, false) => Ok(Reach::Own),
        }
    }

    /// The rooms `ids`, each an integer (a chat product's room ids are),
    /// duplicates dropped.
    pub fn rooms<S: AsRef<str>>(ids: &[S]) -> Result<Reach, InvalidRooms> {
        let mut rooms = Vec::with_capacity(ids.len());
        for id in ids {
            let room = room_id(id.as_ref()).ok_or(InvalidRooms::Rooms)?;
            if !rooms.contains(&room) {
                rooms.push(room);
            }
        }
        if rooms.is_empty() || rooms.len() > MAX_ROOMS {
            return Err(InvalidRooms::Rooms);
        }
        Ok(Reach::Rooms(rooms))
    }

    /// Whether the session of `user` may read (metadata and bytes) `attachment`.
    pub fn reads(&self, user: &str, attachment: &Attachment) -> bool {
        match self {
            Reach::AllRooms => true,
            Reach::Rooms(rooms) => {
                is_chat(attachment)
                    && (attachment
                        .subject
                        .room_id
                        .as_ref()
                        .is_some_and(|room| rooms.contains(room))
                        || attachment.uploaded_by == user)
            }
            Reach::Own => is_chat(attachment) && attachment.uploaded_by == user,
        }
    }

    /// Whether the session of `user` may delete `attachment`: its uploader,
    /// or an all-rooms session. Room members read, but do not delete, what
    /// others posted.
    pub fn deletes(&self, user: &str, attachment: &Attachment) -> bool {
        match self {
            Reach::AllRooms => true,
            Reach::Rooms(_) | Reach::Own => is_chat(attachment) && attachment.uploaded_by == user,
        }
    }

    /// Whether the session may upload into `room` (`None`: no room, an
    /// upload only its uploader and all-rooms sessions reach).
    pub fn uploads_into(&self, room: Option<&str>) -> bool {
        match (self, room) {
            (_, None) | (Reach::AllRooms, _) => true,
            (Reach::Rooms(rooms), Some(room)) => rooms.iter().any(|r| r == room),
            (Reach::Own, Some(_)) => false,
        }
    }
}

/// A room id as stored: the integer, written canonically (`007` is `7`).
pub fn room_id(raw: &str) -> Option<String> {
    raw.trim().parse::<i64>().ok().map(|n| n.to_string())
}

/// Whether `attachment` was uploaded through the `chat` dialect: on a message,
/// and on no ticket or case (the other dialects' subjects).
fn is_chat(attachment: &Attachment) -> bool {
    let s = &attachment.subject;
    s.message_id.is_some() && s.ticket_id.is_none() && s.case_id.is_none()
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::attachment::Subject;
    use crate::tenant::TenantId;

    fn chat(room: Option<&str>, by: &str) -> Attachment {
        let subject = Subject {
            message_id: Some("1".into()),
            room_id: room.map(str::to_owned),
            ..Subject::default()
        };
        let named = ("a.png".to_owned(), "image/png".to_owned());
        Attachment::pending(
            TenantId(uuid::Uuid::nil()),
            subject,
            named,
            by.to_owned(),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn each_reach_reads_deletes_and_uploads_what_the_model_says() {
        let rooms = Reach::rooms(&["6", "07", "6"]).unwrap();
        assert_eq!(rooms, Reach::Rooms(vec!["6".into(), "7".into()]));
        let in_6 = chat(Some("6"), "bob");
        let in_8 = chat(Some("8"), "bob");
        let mine_in_8 = chat(Some("8"), "ann");
        let mine = chat(None, "ann");
        let ticket = {
            let mut a = chat(None, "ann");
            a.subject.ticket_id = Some("t".into());
            a
        };
        for (reach, reads) in [
            (&rooms, [true, false, true, true, false]),
            (&Reach::Own, [false, false, true, true, false]),
            (&Reach::AllRooms, [true; 5]),
        ] {
            let got = [&in_6, &in_8, &mine_in_8, &mine, &ticket].map(|a| reach.reads("ann", a));
            assert_eq!(got, reads, "{reach:?}");
        }
        assert!(!rooms.deletes("ann", &in_6), "a member is not the uploader");
        assert!(rooms.deletes("ann", &mine_in_8) && Reach::Own.deletes("ann", &mine));
        assert!(!Reach::Own.deletes("ann", &ticket) && Reach::AllRooms.deletes("ann", &ticket));
        assert!(rooms.uploads_into(Some("7")) && !rooms.uploads_into(Some("8")));
        assert!(rooms.uploads_into(None) && Reach::Own.uploads_into(None));
        assert!(!Reach::Own.uploads_into(Some("6")) && Reach::AllRooms.uploads_into(Some("9")));
        for bad in [&[][..], &["x"][..], &["1.5"][..]] {
            assert_eq!(Reach::rooms(bad), Err(InvalidRooms::Rooms), "{bad:?}");
        }
        let too_many: Vec<String> = (0..=MAX_ROOMS).map(|n| n.to_string()).collect();
        assert_eq!(Reach::rooms(&too_many), Err(InvalidRooms::Rooms));
        let no_rooms: Option<&[&str]> = None;
        assert_eq!(Reach::chosen(no_rooms, false), Ok(Reach::Own));
        assert_eq!(Reach::chosen(no_rooms, true), Ok(Reach::AllRooms));
        assert_eq!(
            Reach::chosen(Some(&["07"][..]), false),
            Reach::rooms(&["7"])
        );
        assert_eq!(
            Reach::chosen(Some(&["7"][..]), true),
            Err(InvalidRooms::Both)
        );
    }
}
