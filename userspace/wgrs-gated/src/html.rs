//! The auth page: plain HTML forms, no JavaScript, readable on a phone.

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:sans-serif;max-width:28em;margin:2em auto;padding:0 1em;\
line-height:1.4}input,button{font-size:1.4em;padding:.3em;margin:.2em 0;width:100%;\
box-sizing:border-box}.ok{color:#075}.bad{color:#a00}small{color:#555}";

/// A whole page. `body` must already be escaped HTML.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

fn code_form() -> &'static str {
    "<form method=\"post\" action=\"/login\">\
<label for=\"code\">Code from your authenticator app</label>\
<input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
pattern=\"[0-9 ]{6,7}\" maxlength=\"7\" required autofocus>\
<button type=\"submit\">Unlock</button></form>"
}

fn logout_form() -> &'static str {
    "<form method=\"post\" action=\"/logout\"><button type=\"submit\">Lock now</button></form>"
}

/// `GET /`: the state of the caller's peer and the form.
pub fn index(device: &str, state: &str, detail: &str, authorized: bool, enrolled: bool) -> String {
    let mut b = format!(
        "<h1>{}</h1><p>This device is <b>{}</b>.{}</p>",
        escape(device),
        escape(state),
        if detail.is_empty() {
            String::new()
        } else {
            format!(" <small>{}</small>", escape(detail))
        }
    );
    if !enrolled {
        b.push_str(
            "<p class=\"bad\">No authenticator is enrolled for this device yet: \
ask your administrator.</p>",
        );
    } else if authorized {
        b.push_str(logout_form());
    } else {
        b.push_str(code_form());
    }
    page(&format!("{device}: second factor"), &b)
}

/// The answer to a form post.
pub fn result(ok: bool, message: &str, again: bool) -> String {
    let mut b = format!(
        "<p class=\"{}\">{}</p>",
        if ok { "ok" } else { "bad" },
        escape(message)
    );
    if again {
        b.push_str(code_form());
    }
    b.push_str("<p><a href=\"/\">Back</a></p>");
    page(if ok { "Done" } else { "Not done" }, &b)
}
