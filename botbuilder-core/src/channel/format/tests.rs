use proptest::prelude::*;

use super::*;

fn buttons(n: usize) -> Vec<Button> {
    (1..=n)
        .map(|i| Button {
            title: format!("Option {i}"),
            payload: format!("opt_{i}"),
        })
        .collect()
}

fn whatsapp_like() -> Capabilities {
    Capabilities::text_only()
        .with_text_len(4096)
        .with_buttons(3, 20)
        .with_list(10, 24)
}

fn texts(parts: &[Part]) -> Vec<&str> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn last_choices(parts: &[Part]) -> Option<&Choices> {
    match parts.last() {
        Some(Part::Text { choices, .. }) => choices.as_ref(),
        _ => None,
    }
}

#[test]
fn buttons_within_the_limit_stay_buttons() {
    let mut message = OutboundMessage::text("Pick one");
    message.buttons = buttons(3);
    let parts = format(&message, &whatsapp_like());
    let choices = last_choices(&parts).expect("choices");
    assert_eq!(choices.style, Style::Buttons);
    assert_eq!(choices.options, buttons(3));
    assert_eq!(texts(&parts), ["Pick one"]);
}

#[test]
fn more_buttons_than_fit_become_a_list_then_numbered_text() {
    let mut message = OutboundMessage::text("Pick one");
    message.buttons = buttons(7);
    let parts = format(&message, &whatsapp_like());
    assert_eq!(last_choices(&parts).expect("a list").style, Style::List);

    message.buttons = buttons(11);
    let parts = format(&message, &whatsapp_like());
    assert_eq!(last_choices(&parts), None);
    let text = texts(&parts).join("\n");
    assert!(
        text.starts_with("Pick one\n\n1. Option 1\n2. Option 2\n"),
        "{text}"
    );
    assert!(text.ends_with("11. Option 11"), "{text}");
    assert_eq!(
        numbered_choice("11", &message.buttons),
        Some(&message.buttons[10])
    );
    assert_eq!(
        numbered_choice(" 2. ", &message.buttons),
        Some(&message.buttons[1])
    );
    assert_eq!(numbered_choice("0", &message.buttons), None);
    assert_eq!(numbered_choice("12", &message.buttons), None);
    assert_eq!(numbered_choice("two", &message.buttons), None);
}

#[test]
fn long_titles_are_shortened_and_payloads_kept() {
    let mut message = OutboundMessage::text("Pick");
    message.buttons = vec![Button {
        title: "A really quite long button title".into(),
        payload: "long".into(),
    }];
    let parts = format(&message, &whatsapp_like());
    let option = &last_choices(&parts).expect("choices").options[0];
    assert_eq!(option.title, "A really quite long…");
    assert_eq!(option.payload, "long");
}

#[test]
fn quick_replies_stay_quick_replies_only_where_supported() {
    let mut message = OutboundMessage::text("Rate us");
    message.quick_replies = buttons(2);
    let telegram = Capabilities::text_only()
        .with_buttons(10, 0)
        .with_media(true, true, true);
    let parts = format(&message, &telegram);
    assert_eq!(
        last_choices(&parts).expect("choices").style,
        Style::QuickReplies
    );
    let parts = format(&message, &whatsapp_like());
    assert_eq!(last_choices(&parts).expect("choices").style, Style::Buttons);
}

#[test]
fn images_and_typing_degrade_to_text() {
    let mut message = OutboundMessage::text("Here it is");
    message.typing = true;
    message.image = Some(Image {
        url: "https://example.com/a.png".into(),
        alt: "A chart".into(),
    });
    let rich = Capabilities::text_only().with_media(false, true, true);
    let parts = format(&message, &rich);
    assert_eq!(parts[0], Part::Typing);
    assert!(matches!(&parts[1], Part::Image(image) if image.alt == "A chart"));
    let parts = format(&message, &Capabilities::text_only());
    assert_eq!(
        texts(&parts),
        ["A chart: https://example.com/a.png\n\nHere it is"]
    );
}

#[test]
fn text_splits_at_paragraphs_then_sentences_then_words() {
    let caps = Capabilities::text_only().with_text_len(20);
    let message =
        OutboundMessage::text("First paragraph.\n\nSecond one is longer. It goes on and on");
    let parts = format(&message, &caps);
    assert_eq!(
        texts(&parts),
        [
            "First paragraph.",
            "Second one is",
            "longer.",
            "It goes on and on"
        ]
    );
    let message = OutboundMessage::text("One sentence. Another sentence here.");
    assert_eq!(
        texts(&format(&message, &caps)),
        ["One sentence.", "Another sentence", "here."]
    );
}

#[test]
fn an_empty_message_gives_nothing_and_choices_alone_keep_a_part() {
    assert!(format(&OutboundMessage::default(), &whatsapp_like()).is_empty());
    let message = OutboundMessage {
        buttons: buttons(2),
        ..OutboundMessage::default()
    };
    let parts = format(&message, &whatsapp_like());
    assert_eq!(parts.len(), 1);
    assert!(last_choices(&parts).is_some());
}

#[test]
fn stored_payloads_become_messages() {
    let payload = serde_json::json!({
        "buttons": [{"title": "Yes", "payload": "yes"}],
        "image": {"url": "https://example.com/x.png"},
        "citations": [1, 2]
    });
    let message = OutboundMessage::from_stored("Hi", &payload);
    assert_eq!(message.buttons.len(), 1);
    assert_eq!(message.image.expect("image").alt, "");
    let broken = OutboundMessage::from_stored("Hi", &serde_json::json!({"buttons": "nope"}));
    assert!(broken.buttons.is_empty());
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    // Words, spaces, newlines, sentence ends, emoji and combining marks.
    proptest::collection::vec(
        prop_oneof![
            "[a-zA-Z]{1,12}",
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just(". ".to_owned()),
            Just("😀".to_owned()),
            Just("e\u{301}".to_owned()),
            "[^\u{0}]{1,3}",
        ],
        0..200,
    )
    .prop_map(|words| words.concat())
}

fn non_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

proptest! {
    #[test]
    fn every_part_fits_and_nothing_is_lost(
        text in arbitrary_text(),
        max in 4usize..300,
        n_buttons in 0usize..15,
    ) {
        let caps = Capabilities::text_only().with_text_len(max).with_buttons(3, 20).with_list(10, 24);
        let mut message = OutboundMessage::text(text.clone());
        message.buttons = buttons(n_buttons);
        let parts = format(&message, &caps);
        let pieces = texts(&parts);
        for piece in &pieces {
            prop_assert!(piece.encode_utf16().count() <= max, "{piece:?} over {max}");
            prop_assert!(!piece.is_empty() || n_buttons > 0);
        }
        let joined = non_space(&pieces.concat());
        if n_buttons > 10 {
            // Numbered lines were added after the text.
            prop_assert!(joined.starts_with(&non_space(&text)));
        } else {
            prop_assert_eq!(joined, non_space(&text));
            let offered = last_choices(&parts).map_or(0, |c| c.options.len());
            prop_assert_eq!(offered, n_buttons);
        }
        for part in &parts[..parts.len().saturating_sub(1)] {
            let has_choices = matches!(part, Part::Text { choices: Some(_), .. });
            prop_assert!(!has_choices, "choices only on the last part");
        }
    }

    #[test]
    fn shortened_titles_fit(title in "\\PC{0,60}", max in 2usize..30) {
        let short = shorten(&title, max);
        prop_assert!(short.encode_utf16().count() <= max);
    }
}
