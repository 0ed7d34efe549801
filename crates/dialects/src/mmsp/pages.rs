//! The HTML mmsp hands out: the sandbox bank page a gateway payment (2322) is answered
//! with, the form UnionPay's quick order returns (783, TRADE_MODE 2), and the pages of the
//! WeChat H5 wake-up (§10.1). Everything from a merchant is escaped.

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY};
use axum::response::{IntoResponse, Response};
use paymux_core::channel::PayAction;
use paymux_core::order::Order;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;background:#eef1f5;margin:0}\
main{max-width:460px;margin:40px auto;background:#fff;border-radius:10px;padding:28px;box-shadow:0 2px 12px rgba(0,0,0,.08)}\
h1{font-size:20px;margin:0 0 4px;color:#b8282d}.sub{color:#666;margin:0 0 18px}table{width:100%;border-collapse:collapse;margin:0 0 20px}\
td{padding:6px 0;border-bottom:1px solid #eee}td:first-child{color:#888;width:35%}\
button{font-size:16px;border:0;border-radius:6px;padding:12px 26px;background:#b8282d;color:#fff;cursor:pointer;width:100%}\
.sandbox{background:#fff4e5;color:#8a5300;font-size:12px;padding:6px 10px;border-radius:6px;margin:0 0 16px}";

fn document(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>{content}</main></body></html>"
    )
}

/// A page with the headers mmsp's pages carry: no script, no referrer (the links in them
/// are keys), not cached.
pub fn page(status: axum::http::StatusCode, html: String) -> Response {
    let mut response = (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn hidden_form(id: &str, action: &PayAction, button: &str) -> String {
    let (url, fields) = match action {
        PayAction::PostForm { url, fields } => (url.as_str(), fields.as_slice()),
        PayAction::QrCode(url) | PayAction::Redirect(url) => (url.as_str(), &[][..]),
        PayAction::None => ("", &[][..]),
    };
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    format!(
        "<form id=\"{id}\" method=\"post\" action=\"{}\">{inputs}<button type=\"submit\">{}</button></form>",
        escape(url),
        escape(button)
    )
}

/// The sandbox's online-banking page of a gateway payment (2322): the bank that
/// PAY_CHANNEL names, the order, and the way on to pay (the cashier).
pub fn bank_page(bank: &str, channel: &str, order: &Order, action: &PayAction) -> String {
    let content = format!(
        "<p class=\"sandbox\">沙箱环境 · Sandbox: no real money moves</p>\
         <h1>{bank}网上银行</h1><p class=\"sub\">个人网银支付 · {channel}</p>\
         <table><tr><td>商户订单号</td><td>{no}</td></tr><tr><td>商品</td><td>{subject}</td></tr>\
         <tr><td>金额</td><td>¥{amount}</td></tr><tr><td>平台订单号</td><td>{id}</td></tr></table>{form}",
        bank = escape(bank),
        channel = escape(channel),
        no = escape(order.merchant_order_no.as_str()),
        subject = escape(&order.subject),
        amount = order.amount.to_yuan_string(),
        id = escape(order.id.as_str()),
        form = hidden_form("bank", action, "登录网银支付"),
    );
    document(&format!("{}网上银行", escape(bank)), &content)
}

/// 783's HTML (TRADE_MODE 2): a form the merchant writes into its page, which takes the
/// payer to the pay page by itself.
pub fn quick_form(action: &PayAction) -> String {
    format!(
        "{}<script>document.getElementById('mmsp_quick').submit();</script>",
        hidden_form("mmsp_quick", action, "前往支付")
    )
}

/// §10.1's wake-up: in the sandbox there is no WeChat app to wake, so the page says so
/// and leads back to the merchant.
pub fn wake_up(back: &str) -> String {
    document(
        "唤醒微信支付",
        &format!(
            "<p class=\"sandbox\">沙箱环境 · Sandbox: no WeChat app is woken</p>\
             <h1>微信支付</h1><p class=\"sub\">此处将唤醒微信APP完成支付。</p>\
             <p><a href=\"{}\">返回商户</a></p>",
            escape(back)
        ),
    )
}

pub fn message(title: &str, detail: &str) -> String {
    document(
        &escape(title),
        &format!(
            "<h1>{}</h1><p class=\"sub\">{}</p>",
            escape(title),
            escape(detail)
        ),
    )
}

/// Standard or URL-safe base64, padded or not, as merchants' `base64_encode` writes it
/// (§10.1's `merurl`).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let text = text.trim();
    GeneralPurpose::new(&STANDARD, lenient)
        .decode(text)
        .or_else(|_| GeneralPurpose::new(&URL_SAFE, lenient).decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reads_both_alphabets_with_or_without_padding() {
        assert_eq!(
            base64_decode("aHR0cDovL20uZXhhbXBsZS5jb20vYT9iPTE=").unwrap(),
            b"http://m.example.com/a?b=1"
        );
        assert_eq!(base64_decode("aHR0cDovL20").unwrap(), b"http://m");
        assert_eq!(base64_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(base64_decode("a b").is_none());
    }

    #[test]
    fn merchant_text_cannot_inject_markup() {
        assert_eq!(
            escape("<a href='x'>\"&"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;"
        );
    }
}
