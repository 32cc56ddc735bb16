//! HTML to text: parse with `scraper`, drop what is not content, render with `html2text`.

use scraper::{Html, Selector};

use super::ExtractError;

/// Elements that are never content: code, styling, embedded objects, navigation, forms.
const NOT_CONTENT: &str = "script, style, noscript, template, iframe, object, embed, svg, \
    canvas, img, picture, video, audio, nav, form, select, dialog";

/// Page furniture when it belongs to the page (a site banner, footer, sidebar), content when
/// it belongs to an article or section (an article's header holds its title).
const FURNITURE: &str = "header, footer, aside";

/// What makes a header, footer or aside part of the content.
const CONTENT_CONTAINERS: [&str; 3] = ["article", "main", "section"];

/// The readable text of a page (headings as `#` lines, so chunks keep their heading path)
/// and its `<title>`.
pub(super) fn to_text(page: &str) -> Result<(String, Option<String>), ExtractError> {
    let mut html = Html::parse_document(page);
    let title = Selector::parse("title").ok().and_then(|selector| {
        html.select(&selector)
            .next()
            .map(|title| title.text().collect::<String>().trim().to_owned())
            .filter(|title| !title.is_empty())
    });
    let not_content = Selector::parse(NOT_CONTENT).expect("valid selector");
    let furniture = Selector::parse(FURNITURE).expect("valid selector");
    let mut dropped: Vec<_> = html.select(&not_content).map(|e| e.id()).collect();
    dropped.extend(
        html.select(&furniture)
            .filter(|e| {
                !e.ancestors().any(|a| {
                    a.value()
                        .as_element()
                        .is_some_and(|el| CONTENT_CONTAINERS.contains(&el.name()))
                })
            })
            .map(|e| e.id()),
    );
    for id in dropped {
        if let Some(mut node) = html.tree.get_mut(id) {
            node.detach();
        }
    }
    // Links read as their text (the renderer would bracket them).
    let links = Selector::parse("a").expect("valid selector");
    let anchors: Vec<_> = html.select(&links).map(|e| e.id()).collect();
    for anchor in anchors {
        let children: Vec<_> = html
            .tree
            .get(anchor)
            .map(|node| node.children().map(|child| child.id()).collect())
            .unwrap_or_default();
        if let Some(mut node) = html.tree.get_mut(anchor) {
            for child in children {
                node.insert_id_before(child);
            }
            node.detach();
        }
    }
    // Prefer the main content when the page marks it.
    let body = Selector::parse("main, article, [role=main]")
        .ok()
        .and_then(|main| html.select(&main).next().map(|e| e.html()))
        .unwrap_or_else(|| html.html());
    let text = html2text::config::plain_no_decorate()
        .string_from_read(body.as_bytes(), usize::MAX / 4)
        .map_err(|e| ExtractError::Malformed(e.to_string()))?;
    Ok((tidy(&text), title))
}

/// Collapses runs of blank lines and trims trailing spaces.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_and_page_furniture_are_dropped() {
        let page = r#"<!doctype html><html><head><title> Returns policy </title>
            <style>body { color: red }</style><script>alert("steal cookies")</script></head>
            <body><nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav>
            <h1>Returns</h1><p>You can return items within <b>30 days</b>.</p>
            <script>document.write("injected")</script>
            <h2>Exceptions</h2><p>Sale items are final. See <a href="/faq">the FAQ</a>.</p>
            <footer>© Shop Inc.</footer></body></html>"#;
        let (text, title) = to_text(page).unwrap();
        assert_eq!(title.as_deref(), Some("Returns policy"));
        for gone in ["alert", "injected", "color", "Home", "Shop Inc"] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
        assert!(text.contains("# Returns"), "{text}");
        assert!(text.contains("## Exceptions"), "{text}");
        assert!(text.contains("within 30 days"), "{text}");
        assert!(text.contains("See the FAQ."), "{text}");
    }

    #[test]
    fn article_headers_and_faq_questions_are_content() {
        let page = r#"<body><header><a href="/">Shop</a> Sign in</header>
            <article><header><h1>Returns FAQ</h1><p>Updated in May</p></header>
            <details><summary>Can I return sale items?</summary><p>No, sale items are final.</p></details>
            <div class="accordion"><button aria-expanded="false">How long do refunds take?</button>
            <div><p>Five working days.</p></div></div>
            <footer>Written by the support team</footer></article>
            <aside>Related: gift cards</aside><footer>© Shop Inc.</footer>
            <form><button>Subscribe</button></form></body>"#;
        let (text, _) = to_text(page).unwrap();
        for kept in [
            "# Returns FAQ",
            "Updated in May",
            "Can I return sale items?",
            "sale items are final",
            "How long do refunds take?",
            "Five working days",
            "Written by the support team",
        ] {
            assert!(text.contains(kept), "{kept} in {text}");
        }
        for gone in ["Sign in", "Related", "Shop Inc", "Subscribe"] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
    }

    #[test]
    fn the_main_content_is_preferred_when_marked() {
        let page = "<body><div>Cookie banner</div><main><p>The answer is 42.</p></main></body>";
        let (text, title) = to_text(page).unwrap();
        assert_eq!(text, "The answer is 42.");
        assert_eq!(title, None);
    }
}
