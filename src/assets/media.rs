//! Which media types each kind of asset may have, and whether an object's first bytes are what
//! its declared type says (sniffed by the `infer` crate).

use entity::asset::AssetKind;

/// How many leading bytes are enough to tell every supported type.
pub const SNIFF_BYTES: u64 = 8192;

/// The types accepted for each kind.
pub fn allowed_types(kind: AssetKind) -> &'static [&'static str] {
    match kind {
        AssetKind::Image => &[
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "image/avif",
            "image/bmp",
            "image/tiff",
            "image/heif",
        ],
        AssetKind::Video => &[
            "video/mp4",
            "video/webm",
            "video/quicktime",
            "video/x-matroska",
            "video/mpeg",
            "video/x-m4v",
        ],
        AssetKind::Audio => &[
            "audio/mpeg",
            "audio/wav",
            "audio/ogg",
            "audio/flac",
            "audio/mp4",
            "audio/aac",
            "audio/opus",
            "audio/webm",
        ],
        AssetKind::File => &[
            "application/pdf",
            "application/zip",
            "application/json",
            "text/plain",
            "text/csv",
            "text/markdown",
            "model/gltf-binary",
            "application/octet-stream",
        ],
    }
}

/// A type in its canonical spelling: lower case, parameters dropped, common aliases folded
/// (`image/jpg` → `image/jpeg`, `audio/x-wav` → `audio/wav`).
pub fn canonical(mime: &str) -> String {
    let base = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let folded = match base.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "image/heic" => "image/heif",
        "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "audio/wav",
        "audio/x-flac" => "audio/flac",
        "audio/mp3" => "audio/mpeg",
        "audio/x-m4a" | "audio/m4a" => "audio/mp4",
        _ => return base,
    };
    folded.to_owned()
}

/// Checks that `mime` is allowed for `kind`; the canonical type, or why not.
pub fn check_type(kind: AssetKind, mime: &str) -> Result<String, String> {
    let mime = canonical(mime);
    if allowed_types(kind).contains(&mime.as_str()) {
        Ok(mime)
    } else {
        Err(format!(
            "'{mime}' is not accepted for {kind:?} assets; accepted: {}",
            allowed_types(kind).join(", ")
        ))
    }
}

/// Types whose bytes no magic number identifies; their head must be UTF-8 text.
fn is_text(mime: &str) -> bool {
    mime.starts_with("text/") || mime == "application/json"
}

/// Whether a sniffed type is the declared one, allowing for containers that carry several
/// (an MP4 holding only audio, a WebM holding only audio).
fn same_media(declared: &str, sniffed: &str) -> bool {
    let sniffed = canonical(sniffed);
    declared == sniffed
        || matches!(
            (declared, sniffed.as_str()),
            ("audio/mp4", "video/mp4")
                | ("video/mp4", "audio/mp4")
                | ("video/mp4", "video/x-m4v")
                | ("video/x-m4v", "video/mp4")
                | ("audio/webm", "video/webm")
                | ("video/webm", "video/x-matroska")
                | ("audio/ogg", "audio/opus")
                | ("audio/opus", "audio/ogg")
        )
}

/// Checks an object's first bytes against its declared (canonical) type; why not, if not.
pub fn check_head(declared: &str, head: &[u8]) -> Result<(), String> {
    if declared == "application/octet-stream" {
        return Ok(());
    }
    let sniffed = infer::get(head).map(|t| t.mime_type());
    if is_text(declared) {
        let text = match std::str::from_utf8(head) {
            Ok(_) => true,
            // Cut in the middle of a character at the end of the sniffed bytes.
            Err(err) => err.error_len().is_none(),
        };
        return match (text, sniffed) {
            (true, None) => Ok(()),
            (_, Some(found)) => Err(format!("the bytes are {found}, not {declared}")),
            (false, None) => Err(format!("the bytes are not UTF-8 text, so not {declared}")),
        };
    }
    match sniffed {
        Some(found) if same_media(declared, found) => Ok(()),
        Some(found) => Err(format!("the bytes are {found}, not {declared}")),
        None => Err(format!(
            "the bytes are not a known media type, not {declared}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";

    #[test]
    fn declared_types_are_checked_against_the_kind() {
        assert_eq!(
            check_type(AssetKind::Image, "IMAGE/JPG").unwrap(),
            "image/jpeg"
        );
        assert!(check_type(AssetKind::Image, "video/mp4").is_err());
        assert!(check_type(AssetKind::Image, "image/svg+xml").is_err());
        assert_eq!(
            check_type(AssetKind::Audio, "audio/x-wav").unwrap(),
            "audio/wav"
        );
    }

    #[test]
    fn bytes_must_be_what_their_type_says() {
        assert!(check_head("image/png", PNG).is_ok());
        assert!(check_head("image/jpeg", PNG).is_err());
        assert!(check_head("image/jpeg", JPEG).is_ok());
        assert!(check_head("image/png", b"plain text").is_err());
        assert!(check_head("text/plain", "héllo".as_bytes()).is_ok());
        assert!(check_head("text/plain", PNG).is_err());
        assert!(check_head("application/json", &[0xff, 0xfe, 0x00]).is_err());
        assert!(check_head("application/octet-stream", PNG).is_ok());
    }

    #[test]
    fn text_cut_inside_a_character_still_counts_as_text() {
        let text = "ééé".as_bytes();
        assert!(check_head("text/plain", &text[..3]).is_ok());
    }
}
