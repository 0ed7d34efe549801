//! How a payer pays: which wallet, by which method. Every dialect's product code maps onto
//! one `PayWay`; channels match on it exhaustively.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wallet {
    WeChat,
    Alipay,
    UnionPay,
    Qq,
    Jd,
    Baidu,
    /// Online banking and bank cards.
    Bank,
    /// Social-security (medical insurance) cards.
    SocialSecurity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayMethod {
    /// The payer scans a code the merchant shows (native / 扫码).
    Qr,
    /// A mobile web page the payer is redirected to (H5).
    H5,
    /// A page inside the wallet app (公众号, 服务窗).
    InApp,
    MiniProgram,
    /// The merchant scans the payer's code (付款码 / 条码).
    Barcode,
    /// A bank's online-banking page (网银).
    Gateway,
    /// Card number plus SMS code (快捷).
    Quick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayWay {
    pub wallet: Wallet,
    pub method: PayMethod,
}

impl PayWay {
    pub const fn new(wallet: Wallet, method: PayMethod) -> PayWay {
        PayWay { wallet, method }
    }
}

impl Wallet {
    pub fn as_str(self) -> &'static str {
        match self {
            Wallet::WeChat => "wechat",
            Wallet::Alipay => "alipay",
            Wallet::UnionPay => "unionpay",
            Wallet::Qq => "qq",
            Wallet::Jd => "jd",
            Wallet::Baidu => "baidu",
            Wallet::Bank => "bank",
            Wallet::SocialSecurity => "social_security",
        }
    }

    /// The name the cashier page shows.
    pub fn display_name(self) -> &'static str {
        match self {
            Wallet::WeChat => "微信支付",
            Wallet::Alipay => "支付宝",
            Wallet::UnionPay => "银联云闪付",
            Wallet::Qq => "QQ钱包",
            Wallet::Jd => "京东支付",
            Wallet::Baidu => "百度钱包",
            Wallet::Bank => "网上银行",
            Wallet::SocialSecurity => "社保卡",
        }
    }

    pub const ALL: [Wallet; 8] = [
        Wallet::WeChat,
        Wallet::Alipay,
        Wallet::UnionPay,
        Wallet::Qq,
        Wallet::Jd,
        Wallet::Baidu,
        Wallet::Bank,
        Wallet::SocialSecurity,
    ];
}

impl PayMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Qr => "qr",
            PayMethod::H5 => "h5",
            PayMethod::InApp => "in_app",
            PayMethod::MiniProgram => "mini_program",
            PayMethod::Barcode => "barcode",
            PayMethod::Gateway => "gateway",
            PayMethod::Quick => "quick",
        }
    }

    const ALL: [PayMethod; 7] = [
        PayMethod::Qr,
        PayMethod::H5,
        PayMethod::InApp,
        PayMethod::MiniProgram,
        PayMethod::Barcode,
        PayMethod::Gateway,
        PayMethod::Quick,
    ];
}

/// Where a payment's money came from, as the wallet reports it with the payment (WeChat's
/// `bank_type`, Alipay's `fund_bill_list`, chinaums' `cardAttr`): the wallet's balance, or a
/// debit or credit card bound to it. Merchants may refuse credit cards for a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Funding {
    Balance,
    DebitCard,
    CreditCard,
}

impl Funding {
    pub const ALL: [Funding; 3] = [Funding::Balance, Funding::DebitCard, Funding::CreditCard];

    pub fn as_str(self) -> &'static str {
        match self {
            Funding::Balance => "balance",
            Funding::DebitCard => "debit_card",
            Funding::CreditCard => "credit_card",
        }
    }

    pub fn from_stored(s: &str) -> Option<Funding> {
        Funding::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The name the cashier page shows.
    pub fn display_name(self) -> &'static str {
        match self {
            Funding::Balance => "余额",
            Funding::DebitCard => "借记卡",
            Funding::CreditCard => "信用卡",
        }
    }

    /// What a wallet can pay from: UnionPay and bank payments are card payments; a
    /// social-security card pays from its own account; the other wallets from their
    /// balance or a bound card. The first is what a payer who does not choose pays from.
    pub fn offered_by(wallet: Wallet) -> &'static [Funding] {
        match wallet {
            Wallet::UnionPay | Wallet::Bank => &[Funding::DebitCard, Funding::CreditCard],
            Wallet::SocialSecurity => &[Funding::Balance],
            Wallet::WeChat | Wallet::Alipay | Wallet::Qq | Wallet::Jd | Wallet::Baidu => {
                &Funding::ALL
            }
        }
    }
}

impl fmt::Display for PayWay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.wallet.as_str(), self.method.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown pay way {0:?}")]
pub struct UnknownPayWay(pub String);

impl FromStr for PayWay {
    type Err = UnknownPayWay;

    /// Reads the stored form `wallet.method`.
    fn from_str(s: &str) -> Result<PayWay, UnknownPayWay> {
        let unknown = || UnknownPayWay(s.to_owned());
        let (w, m) = s.split_once('.').ok_or_else(unknown)?;
        let wallet = Wallet::ALL
            .into_iter()
            .find(|x| x.as_str() == w)
            .ok_or_else(unknown)?;
        let method = PayMethod::ALL
            .into_iter()
            .find(|x| x.as_str() == m)
            .ok_or_else(unknown)?;
        Ok(PayWay { wallet, method })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pay_way_survives_its_stored_form() {
        for wallet in Wallet::ALL {
            for method in PayMethod::ALL {
                let way = PayWay::new(wallet, method);
                assert_eq!(way.to_string().parse::<PayWay>(), Ok(way));
            }
        }
        assert!("wechat".parse::<PayWay>().is_err());
        assert!("wechat.fax".parse::<PayWay>().is_err());
    }

    #[test]
    fn every_funding_survives_its_stored_form_and_every_wallet_offers_one() {
        for funding in Funding::ALL {
            assert_eq!(Funding::from_stored(funding.as_str()), Some(funding));
        }
        assert_eq!(Funding::from_stored("cash"), None);
        for wallet in Wallet::ALL {
            assert!(!Funding::offered_by(wallet).is_empty(), "{wallet:?}");
        }
        assert!(!Funding::offered_by(Wallet::UnionPay).contains(&Funding::Balance));
    }
}
