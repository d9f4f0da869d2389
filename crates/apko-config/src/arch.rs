//! Architectures, with apk and OCI names mapped in one place.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A target architecture. Parsed from OCI (`amd64`, `arm/v7`) or apk (`x86_64`, `armv7`)
/// names; displayed with its OCI name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// `386` / `x86`
    X86,
    /// `amd64` / `x86_64`
    Amd64,
    /// `arm/v6` / `armhf`
    ArmV6,
    /// `arm/v7` / `armv7`
    ArmV7,
    /// `arm64` / `aarch64`
    Arm64,
    /// `loong64` / `loongarch64`
    Loong64,
    /// `ppc64le`
    Ppc64le,
    /// `riscv64`
    Riscv64,
    /// `s390x`
    S390x,
}

/// An architecture name apko does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown architecture `{0}` (known: 386, amd64, arm64, arm/v6, arm/v7, loong64, ppc64le, riscv64, s390x, or their apk names x86, x86_64, aarch64, armhf, armv7, loongarch64)"
)]
pub struct ParseArchError(pub String);

impl Arch {
    /// Every architecture, in apko's order (`--arch all`).
    pub const ALL: [Arch; 9] = [
        Arch::X86,
        Arch::Amd64,
        Arch::Arm64,
        Arch::ArmV6,
        Arch::ArmV7,
        Arch::Loong64,
        Arch::Ppc64le,
        Arch::Riscv64,
        Arch::S390x,
    ];

    /// The OCI name (`amd64`, `arm/v7`).
    pub fn oci_name(self) -> &'static str {
        match self {
            Arch::X86 => "386",
            Arch::Amd64 => "amd64",
            Arch::ArmV6 => "arm/v6",
            Arch::ArmV7 => "arm/v7",
            Arch::Arm64 => "arm64",
            Arch::Loong64 => "loong64",
            Arch::Ppc64le => "ppc64le",
            Arch::Riscv64 => "riscv64",
            Arch::S390x => "s390x",
        }
    }

    /// The apk name (`x86_64`, `aarch64`), used in repository paths.
    pub fn apk_name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::Amd64 => "x86_64",
            Arch::ArmV6 => "armhf",
            Arch::ArmV7 => "armv7",
            Arch::Arm64 => "aarch64",
            Arch::Loong64 => "loongarch64",
            Arch::Ppc64le => "ppc64le",
            Arch::Riscv64 => "riscv64",
            Arch::S390x => "s390x",
        }
    }

    /// The OCI platform `(architecture, variant)`.
    pub fn oci_platform(self) -> (&'static str, Option<&'static str>) {
        match self {
            Arch::ArmV6 => ("arm", Some("v6")),
            Arch::ArmV7 => ("arm", Some("v7")),
            other => (other.oci_name(), None),
        }
    }

    /// The architecture of the machine this program was built for, if apko knows it.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86" => Some(Arch::X86),
            "x86_64" => Some(Arch::Amd64),
            "aarch64" => Some(Arch::Arm64),
            "arm" => Some(Arch::ArmV7),
            "loongarch64" => Some(Arch::Loong64),
            "powerpc64" => Some(Arch::Ppc64le),
            "riscv64" => Some(Arch::Riscv64),
            "s390x" => Some(Arch::S390x),
            _ => None,
        }
    }
}

impl FromStr for Arch {
    type Err = ParseArchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "386" | "x86" => Arch::X86,
            "amd64" | "x86_64" => Arch::Amd64,
            "arm/v6" | "armhf" => Arch::ArmV6,
            "arm/v7" | "armv7" => Arch::ArmV7,
            "arm64" | "aarch64" => Arch::Arm64,
            "loong64" | "loongarch64" => Arch::Loong64,
            "ppc64le" => Arch::Ppc64le,
            "riscv64" => Arch::Riscv64,
            "s390x" => Arch::S390x,
            other => return Err(ParseArchError(other.to_owned())),
        })
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.oci_name())
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Arch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.oci_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for a in Arch::ALL {
            assert_eq!(a.oci_name().parse::<Arch>().unwrap(), a);
            assert_eq!(a.apk_name().parse::<Arch>().unwrap(), a);
        }
        assert_eq!("x86_64".parse::<Arch>().unwrap().to_string(), "amd64");
        assert_eq!(Arch::ArmV7.oci_platform(), ("arm", Some("v7")));
        assert!("sparc".parse::<Arch>().is_err());
    }
}
