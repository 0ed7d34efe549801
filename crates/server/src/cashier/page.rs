//! The cashier's HTML. Everything that came from a merchant is escaped, the only link that
//! leads off the page is a return URL parsed as http(s) at the edge, and the pages run no
//! script and load nothing inline: their Content-Security-Policy (see `mod.rs`) forbids it.

use paymux_core::order::{Order, OrderStatus};
use paymux_core::payway::{Funding, Wallet};
use paymux_dialects::PayerCheck;
use paymux_dialects::dialect::PayerNote;

/// The pay form's field of the payer's note to the merchant.
pub const NOTE_FIELD: &str = "memo";

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

/// Served as `/assets/paymux.css`, so that the pages need no inline style either.
pub const STYLE: &str = "body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;background:#f4f5f7;margin:0}\
main{max-width:420px;margin:40px auto;background:#fff;border-radius:12px;padding:28px;text-align:center;box-shadow:0 2px 12px rgba(0,0,0,.08)}\
h1{font-size:18px;margin:0 0 6px}.subject{color:#555;margin:0 0 18px}.amount{font-size:34px;font-weight:600;margin:0 0 8px}\
.meta{color:#999;font-size:12px;margin:0 0 18px}img{width:220px;height:220px}\
button{font-size:16px;border:0;border-radius:8px;padding:12px 26px;margin:8px;cursor:pointer}\
.pay{background:#1aad19;color:#fff}.cancel{background:#eee;color:#333}.state{font-size:20px;margin:18px 0}\
.sandbox{background:#fff4e5;color:#8a5300;font-size:12px;padding:6px 10px;border-radius:6px;margin:0 0 16px}\
.wallets button{display:block;width:100%;margin:10px 0}.wechat{background:#1aad19;color:#fff}\
.alipay{background:#1677ff;color:#fff}.unionpay{background:#d7000f;color:#fff}\
.social_security{background:#0b63b5;color:#fff}\
input{font-size:18px;padding:10px;border:1px solid #ccc;border-radius:8px;width:80%;margin:6px 0}\
label{display:block;color:#555;font-size:14px;margin-top:8px}.choice{border-top:1px solid #eee;padding-top:12px;margin-top:12px}\
.funding{border:0;margin:0 0 8px;text-align:left}.funding input{width:auto;margin:0 8px 0 0}\
.notice{background:#fdecea;color:#a8071a;font-size:14px;padding:8px 10px;border-radius:6px}\
.goods{list-style:none;padding:0;margin:0 0 8px;color:#555;font-size:14px}";

fn document(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/assets/paymux.css\"></head>\
         <body><main>{content}</main></body></html>"
    )
}

/// What the cashier page of an order shows.
pub struct CashierView<'a> {
    pub order: &'a Order,
    pub merchant_name: &'a str,
    pub expired: bool,
    /// The page's own path (with its token), where its QR image and its form go.
    pub link: &'a str,
    /// No real money moves.
    pub sandbox: bool,
    /// A try is under way (the pay and cancel buttons are for it).
    pub paying: bool,
    /// What the payer pays with (a bill's: the wallet of its latest try).
    pub wallet: Wallet,
    /// What the wallet can pay from, each with whether this order takes it (a source it
    /// does not take is shown, not selectable, as wallets show a card the merchant refuses).
    pub funding: Vec<(Funding, bool)>,
    /// Why the payer's last choice was refused.
    pub notice: Option<&'a str>,
    /// After paying: back to the merchant (its return URL, or the dialect's signed link).
    pub back_link: Option<String>,
    /// A bill whose try ended unpaid: back to its code's page, to try again.
    pub retry_link: Option<String>,
}

pub fn cashier(view: &CashierView<'_>) -> String {
    let order = view.order;
    let id = escape(order.id.as_str());
    let link = escape(view.link);
    let state = match order.status {
        OrderStatus::Created | OrderStatus::Paying if view.expired => {
            "<p class=\"state\">订单已过期</p>".to_owned()
        }
        OrderStatus::Created | OrderStatus::Paying if !view.paying => {
            let retry = view
                .retry_link
                .as_deref()
                .map(|l| format!("<p><a href=\"{}\">重新选择支付方式</a></p>", escape(l)))
                .unwrap_or_default();
            format!("<p class=\"state\">本次支付未完成</p>{retry}")
        }
        OrderStatus::Created | OrderStatus::Paying => format!(
            "<img src=\"{link}/qr.png\" alt=\"扫码支付\">\
             <form method=\"post\" action=\"{link}/pay\">{sources}\
             <button class=\"pay\" name=\"result\" value=\"success\">确认支付</button>\
             <button class=\"cancel\" name=\"result\" value=\"fail\">取消支付</button></form>",
            sources = funding_choices(&view.funding),
        ),
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
            let back = view
                .back_link
                .as_deref()
                .map(|url| format!("<p><a href=\"{}\">返回商户</a></p>", escape(url)))
                .unwrap_or_default();
            format!("<p class=\"state\">支付成功</p>{back}")
        }
        OrderStatus::Failed => "<p class=\"state\">支付失败</p>".to_owned(),
        OrderStatus::Closed => "<p class=\"state\">订单已关闭</p>".to_owned(),
    };
    let notice = view
        .notice
        .map(|n| format!("<p class=\"notice\">{}</p>", escape(n)))
        .unwrap_or_default();
    let content = format!(
        "{banner}<h1>{merchant}</h1><p class=\"subject\">{subject}</p><p class=\"amount\">¥{amount}</p>\
         <p class=\"meta\">{wallet} · 订单号 {id}</p>{notice}{state}",
        banner = sandbox_banner(view.sandbox),
        merchant = escape(view.merchant_name),
        subject = escape(&order.subject),
        amount = order.amount.to_yuan_string(),
        wallet = view.wallet.display_name(),
    );
    document(
        &format!("收银台 - {}", escape(view.merchant_name)),
        &content,
    )
}

/// The sources of funds to pay from, the first the order takes chosen; one the order does
/// not take is disabled and says so.
fn funding_choices(sources: &[(Funding, bool)]) -> String {
    let first = sources.iter().position(|(_, taken)| *taken);
    let items: String = sources
        .iter()
        .enumerate()
        .map(|(i, (funding, taken))| {
            let state = match (taken, Some(i) == first) {
                (false, _) => " disabled",
                (true, true) => " checked",
                (true, false) => "",
            };
            let refused = if *taken { "" } else { "(本单不支持)" };
            format!(
                "<label><input type=\"radio\" name=\"funding\" value=\"{value}\"{state}>{name}{refused}</label>",
                value = funding.as_str(),
                name = funding.display_name(),
            )
        })
        .collect();
    format!("<fieldset class=\"funding\"><legend>付款方式</legend>{items}</fieldset>")
}

fn sandbox_banner(sandbox: bool) -> &'static str {
    if sandbox {
        "<p class=\"sandbox\">沙箱环境 · Sandbox: no real money moves</p>"
    } else {
        ""
    }
}

/// One bill the payer may pay from a code's page: what it is and how to pay it.
pub struct BillOffer {
    pub label: String,
    /// What else the page shows of it, a line each (its goods).
    pub lines: Vec<String>,
    /// `None`: the payer enters it.
    pub amount: Option<String>,
    /// Hidden fields the pay form carries back (which choice, the payer's lookup input).
    pub hidden: Vec<(String, String)>,
}

/// A payment code's page: the merchant, the code's subject, and for each bill on offer the
/// wallets to pay it with (each a button whose value and class are the wallet's name; and
/// an amount field for an open code, a note field when the dialect takes one).
#[allow(clippy::too_many_arguments)]
pub fn code_page(
    merchant_name: &str,
    subject: &str,
    link: &str,
    offers: &[BillOffer],
    checks: &[PayerCheck],
    note: Option<PayerNote>,
    wallets: &[Wallet],
    sandbox: bool,
) -> String {
    let link = escape(link);
    // A bill that names its payer asks who pays; what it expects is shown masked only.
    let who = if checks.is_empty() {
        String::new()
    } else {
        let inputs: String = checks
            .iter()
            .map(|c| {
                format!(
                    "<label>{label}({hint})<input name=\"{name}\" required autocomplete=\"off\"></label>",
                    label = escape(c.field.label),
                    hint = escape(&c.hint),
                    name = escape(c.field.name),
                )
            })
            .collect();
        format!("<p class=\"meta\">实名账单,仅限本人支付</p>{inputs}")
    };
    let note = note
        .map(|n| {
            format!(
                "<label>{label}(选填)<input name=\"{NOTE_FIELD}\" maxlength=\"{max}\" autocomplete=\"off\"></label>",
                label = escape(n.label),
                max = n.max_chars,
            )
        })
        .unwrap_or_default();
    let buttons: String = wallets
        .iter()
        .map(|w| {
            format!(
                "<button class=\"{name}\" name=\"wallet\" value=\"{name}\">{shown}</button>",
                name = w.as_str(),
                shown = w.display_name()
            )
        })
        .collect();
    let mut body = String::new();
    for offer in offers {
        let hidden: String = offer
            .hidden
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        let amount = match &offer.amount {
            Some(amount) => format!("<p class=\"amount\">¥{}</p>", escape(amount)),
            None => "<label>金额(元)<input name=\"amount\" inputmode=\"decimal\" required></label>"
                .to_owned(),
        };
        let lines = if offer.lines.is_empty() {
            String::new()
        } else {
            let items: String = offer
                .lines
                .iter()
                .map(|l| format!("<li>{}</li>", escape(l)))
                .collect();
            format!("<ul class=\"goods\">{items}</ul>")
        };
        body.push_str(&format!(
            "<form class=\"choice wallets\" method=\"post\" action=\"{link}/pay\">\
             <p class=\"subject\">{label}</p>{lines}{amount}{hidden}{who}{note}{buttons}</form>",
            label = escape(&offer.label),
        ));
    }
    let content = format!(
        "{banner}<h1>{merchant}</h1><p class=\"subject\">{subject}</p>{body}",
        banner = sandbox_banner(sandbox),
        merchant = escape(merchant_name),
        subject = escape(subject),
    );
    document(&format!("付款 - {}", escape(merchant_name)), &content)
}

/// The fields a code's page asks for before the merchant's system says what to bill;
/// `notice`: what to correct in the answers just given (which are not shown back).
pub fn code_questions(
    merchant_name: &str,
    subject: &str,
    link: &str,
    fields: &[(String, String)],
    notice: Option<&str>,
    sandbox: bool,
) -> String {
    let link = escape(link);
    let inputs: String = fields
        .iter()
        .map(|(name, label)| {
            format!(
                "<label>{}<input name=\"{}\" required autocomplete=\"off\"></label>",
                escape(label),
                escape(name)
            )
        })
        .collect();
    let notice = notice
        .map(|n| format!("<p class=\"notice\">{}</p>", escape(n)))
        .unwrap_or_default();
    let content = format!(
        "{banner}<h1>{merchant}</h1><p class=\"subject\">{subject}</p>{notice}\
         <form method=\"post\" action=\"{link}\">{inputs}<button class=\"pay\">查询待缴费用</button></form>",
        banner = sandbox_banner(sandbox),
        merchant = escape(merchant_name),
        subject = escape(subject),
    );
    document(&format!("付款 - {}", escape(merchant_name)), &content)
}

/// A paid bill's page: done, and the way back to the merchant when there is one.
pub fn paid(back_link: Option<&str>) -> String {
    let back = back_link
        .map(|url| format!("<p><a href=\"{}\">返回商户</a></p>", escape(url)))
        .unwrap_or_default();
    document(
        "支付成功",
        &format!("<p class=\"state\">支付成功</p>{back}"),
    )
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
