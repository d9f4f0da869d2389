//! Repository credentials given apart from the URL (apko's `HTTP_AUTH`).

/// Basic-authentication credentials for one host (apko's `HTTP_AUTH=basic:HOST:USER:PASSWORD`).
/// They are sent to that host only and take precedence over user information in the URL. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct HostCredentials {
    /// The host name (credentials apply to it on any port).
    pub host: String,
    /// The user name.
    pub user: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for HostCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCredentials")
            .field("host", &self.host)
            .field("user", &self.user)
            .field("password", &"xxxxx")
            .finish()
    }
}

impl std::str::FromStr for HostCredentials {
    type Err = &'static str;

    /// `basic:HOST:USER:PASSWORD` (the password may contain `:`, as rules_apko allows).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(4, ':');
        let (Some(scheme), Some(host), Some(user), Some(password)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected `basic:HOST:USER:PASSWORD`");
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("only `basic` credentials are supported (`basic:HOST:USER:PASSWORD`)");
        }
        if host.is_empty() || host.contains(['/', '@']) {
            return Err("HOST must be a host name, as in the repository URL");
        }
        Ok(HostCredentials {
            host: host.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }
}

impl HostCredentials {
    /// Whether they are for `authority` (`host[:port]` of a URL): the same host, on any port
    /// when they name none (`HTTP_AUTH` cannot spell a port: its fields are `:`-separated).
    pub fn applies_to(&self, authority: &str) -> bool {
        authority == self.host
            || authority
                .rsplit_once(':')
                .is_some_and(|(h, port)| h == self.host && port.bytes().all(|b| b.is_ascii_digit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_credentials_parse_as_apko_and_rules_apko_write_them() {
        let c: HostCredentials = "basic:apk.example.com:me:pa:ss".parse().unwrap();
        assert_eq!(
            (c.host.as_str(), c.user.as_str(), c.password.as_str()),
            ("apk.example.com", "me", "pa:ss")
        );
        assert!(!format!("{c:?}").contains("pa:ss"));
        assert!("bearer:h:u:p".parse::<HostCredentials>().is_err());
        assert!("basic:h:u".parse::<HostCredentials>().is_err());
        assert!(c.applies_to("apk.example.com") && c.applies_to("apk.example.com:8443"));
        assert!(!c.applies_to("apk.example.com.evil") && !c.applies_to("x.apk.example.com"));
    }
}
