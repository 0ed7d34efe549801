//! The cashier's HTML. Everything that came from a merchant is escaped, the only link that
//! leads off the page is a return URL parsed as http(s) at the edge, and the pages run no
//! script and load nothing inline: their Content-Security-Policy (see `mod.rs`) forbids it.

use paymux_core::order::{Order, OrderStatus};

fn escape(s: &str) -> String {
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

/// Served as `/cashier/style.css`, so that the pages need no inline style either.
pub const STYLE: &str = "body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;background:#f4f5f7;margin:0}\
main{max-width:420px;margin:40px auto;background:#fff;border-radius:12px;padding:28px;text-align:center;box-shadow:0 2px 12px rgba(0,0,0,.08)}\
h1{font-size:18px;margin:0 0 6px}.subject{color:#555;margin:0 0 18px}.amount{font-size:34px;font-weight:600;margin:0 0 8px}\
.meta{color:#999;font-size:12px;margin:0 0 18px}img{width:220px;height:220px}\
button{font-size:16px;border:0;border-radius:8px;padding:12px 26px;margin:8px;cursor:pointer}\
.pay{background:#1aad19;color:#fff}.cancel{background:#eee;color:#333}.state{font-size:20px;margin:18px 0}\
.sandbox{background:#fff4e5;color:#8a5300;font-size:12px;padding:6px 10px;border-radius:6px;margin:0 0 16px}";

fn document(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/cashier/style.css\"></head>\
         <body><main>{content}</main></body></html>"
    )
}

/// The cashier page of an order. `link` is the page's own path (with its token), where its
/// QR image and its form go; `sandbox` says that no real money moves.
pub fn cashier(
    order: &Order,
    merchant_name: &str,
    expired: bool,
    link: &str,
    sandbox: bool,
) -> String {
    let id = escape(order.id.as_str());
    let link = escape(link);
    let state = match order.status {
        OrderStatus::Created | OrderStatus::Paying if expired => {
            "<p class=\"state\">订单已过期</p>".to_owned()
        }
        OrderStatus::Created | OrderStatus::Paying => format!(
            "<img src=\"{link}/qr.png\" alt=\"扫码支付\">\
             <form method=\"post\" action=\"{link}/pay\">\
             <button class=\"pay\" name=\"result\" value=\"success\">确认支付</button>\
             <button class=\"cancel\" name=\"result\" value=\"fail\">取消支付</button></form>"
        ),
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
            let back = order
                .return_url
                .as_ref()
                .map(|url| format!("<p><a href=\"{}\">返回商户</a></p>", escape(url.as_str())))
                .unwrap_or_default();
            format!("<p class=\"state\">支付成功</p>{back}")
        }
        OrderStatus::Failed => "<p class=\"state\">支付失败</p>".to_owned(),
        OrderStatus::Closed => "<p class=\"state\">订单已关闭</p>".to_owned(),
    };
    let banner = if sandbox {
        "<p class=\"sandbox\">沙箱环境 · Sandbox: no real money moves</p>"
    } else {
        ""
    };
    let content = format!(
        "{banner}<h1>{merchant}</h1><p class=\"subject\">{subject}</p><p class=\"amount\">¥{amount}</p>\
         <p class=\"meta\">{wallet} · 订单号 {id}</p>{state}",
        merchant = escape(merchant_name),
        subject = escape(&order.subject),
        amount = order.amount.to_yuan_string(),
        wallet = order.pay_way.wallet.display_name(),
    );
    document(&format!("收银台 - {}", escape(merchant_name)), &content)
}

pub fn message(title: &str, detail: &str) -> String {
    document(
        &escape(title),
        &format!(
            "<p class=\"state\">{}</p><p class=\"meta\">{}</p>",
            escape(title),
            escape(detail)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn merchant_text_cannot_inject_markup() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
