//! The split's class roles and counts that are more than one class or one number:
//! `data.anomalous` (one class, a list, or `"rest"`: one-vs-rest) and `data.normal_train_count`
//! (a number, or `"all"` train images of the normal class).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ClassRef;

/// The anomalous test classes: one class, a list of them, or every class that is neither the
/// normal one nor a reference class (`"rest"`, the one-vs-rest protocol).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAnomalous", into = "RawAnomalous")]
pub enum Anomalous {
    /// One class (`"ankle-boot"`, `9`).
    Class(ClassRef),
    /// Several classes (`["sandal", "ankle-boot"]`).
    List(Vec<ClassRef>),
    /// Every class but the normal one and the reference classes (`"rest"`).
    Rest,
}

/// The word that stands for one-vs-rest in `data.anomalous`.
pub const REST: &str = "rest";

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawAnomalous {
    One(ClassRef),
    Many(Vec<ClassRef>),
}

impl TryFrom<RawAnomalous> for Anomalous {
    type Error = String;
    fn try_from(raw: RawAnomalous) -> Result<Self, String> {
        Ok(match raw {
            RawAnomalous::One(ClassRef::Name(n)) if n.trim().eq_ignore_ascii_case(REST) => {
                Anomalous::Rest
            }
            RawAnomalous::One(c) => Anomalous::Class(c),
            RawAnomalous::Many(list) if list.is_empty() => {
                return Err("is an empty list: name at least one class, or \"rest\"".into())
            }
            RawAnomalous::Many(list) => Anomalous::List(list),
        })
    }
}

impl From<Anomalous> for RawAnomalous {
    fn from(a: Anomalous) -> RawAnomalous {
        match a {
            Anomalous::Class(c) => RawAnomalous::One(c),
            Anomalous::List(l) => RawAnomalous::Many(l),
            Anomalous::Rest => RawAnomalous::One(ClassRef::Name(REST.into())),
        }
    }
}

impl From<ClassRef> for Anomalous {
    fn from(c: ClassRef) -> Anomalous {
        Anomalous::Class(c)
    }
}

impl Anomalous {
    /// The one class named, when exactly one is.
    pub fn single(&self) -> Option<&ClassRef> {
        match self {
            Anomalous::Class(c) => Some(c),
            Anomalous::List(l) if l.len() == 1 => l.first(),
            _ => None,
        }
    }

    /// The classes named (none for `rest`).
    pub fn listed(&self) -> &[ClassRef] {
        match self {
            Anomalous::Class(c) => std::slice::from_ref(c),
            Anomalous::List(l) => l,
            Anomalous::Rest => &[],
        }
    }

    pub fn is_rest(&self) -> bool {
        matches!(self, Anomalous::Rest)
    }
}

impl fmt::Display for Anomalous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anomalous::Class(c) => write!(f, "{c}"),
            Anomalous::List(l) => {
                let items: Vec<String> = l.iter().map(|c| c.to_string()).collect();
                write!(f, "[{}]", items.join(", "))
            }
            Anomalous::Rest => f.write_str(REST),
        }
    }
}

/// How many train images of a class to draw: a number, or all of them (`"all"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCount", into = "RawCount")]
pub enum ImageCount {
    Count(usize),
    All,
}

/// The word that stands for every image in a count.
pub const ALL: &str = "all";

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawCount {
    Number(i64),
    Word(String),
}

impl TryFrom<RawCount> for ImageCount {
    type Error = String;
    fn try_from(raw: RawCount) -> Result<Self, String> {
        match raw {
            RawCount::Number(n) if n >= 0 => Ok(ImageCount::Count(n as usize)),
            RawCount::Number(n) => Err(format!("is {n}, must be a count ≥ 0 or \"all\"")),
            RawCount::Word(w) if w.trim().eq_ignore_ascii_case(ALL) => Ok(ImageCount::All),
            RawCount::Word(w) => Err(format!("is \"{w}\", must be a count or \"all\"")),
        }
    }
}

impl From<ImageCount> for RawCount {
    fn from(c: ImageCount) -> RawCount {
        match c {
            ImageCount::Count(n) => RawCount::Number(n as i64),
            ImageCount::All => RawCount::Word(ALL.into()),
        }
    }
}

impl From<usize> for ImageCount {
    fn from(n: usize) -> ImageCount {
        ImageCount::Count(n)
    }
}

impl ImageCount {
    /// The number drawn from a pool of `available` images (`all`: every one).
    pub fn of(self, available: usize) -> usize {
        match self {
            ImageCount::Count(n) => n,
            ImageCount::All => available,
        }
    }

    /// The number, when one is given.
    pub fn fixed(self) -> Option<usize> {
        match self {
            ImageCount::Count(n) => Some(n),
            ImageCount::All => None,
        }
    }
}

impl PartialEq<usize> for ImageCount {
    fn eq(&self, other: &usize) -> bool {
        *self == ImageCount::Count(*other)
    }
}

impl fmt::Display for ImageCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageCount::Count(n) => write!(f, "{n}"),
            ImageCount::All => f.write_str(ALL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        a: Anomalous,
        n: ImageCount,
    }

    fn parse(text: &str) -> Result<T, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn anomalous_and_counts_read_and_write_as_toml() {
        let t = parse("a = \"rest\"\nn = \"all\"\n").unwrap();
        assert_eq!(t.a, Anomalous::Rest);
        assert_eq!(t.n, ImageCount::All);
        assert_eq!(toml::to_string(&t).unwrap(), "a = \"rest\"\nn = \"all\"\n");
        let t = parse("a = \"Rest\"\nn = 6000\n").unwrap();
        assert_eq!(t.a, Anomalous::Rest);
        assert_eq!(t.n, 6000);
        let t = parse("a = \"ankle-boot\"\nn = 10\n").unwrap();
        assert_eq!(t.a, Anomalous::Class(ClassRef::Name("ankle-boot".into())));
        assert_eq!(t.a.single(), Some(&ClassRef::Name("ankle-boot".into())));
        let t = parse("a = [\"sandal\", 9]\nn = 10\n").unwrap();
        assert_eq!(
            t.a,
            Anomalous::List(vec![ClassRef::Name("sandal".into()), ClassRef::Index(9)])
        );
        assert_eq!(t.a.to_string(), "[sandal, 9]");
        assert_eq!(t.a.single(), None);
        assert_eq!(
            toml::to_string(&t).unwrap(),
            "a = [\"sandal\", 9]\nn = 10\n"
        );
        assert!(parse("a = []\nn = 1\n").unwrap_err().contains("empty list"));
        assert!(parse("a = 1\nn = \"some\"\n")
            .unwrap_err()
            .contains("a count or \"all\""));
        assert!(parse("a = 1\nn = -3\n").unwrap_err().contains("≥ 0"));
        assert_eq!(ImageCount::All.of(6000), 6000);
        assert_eq!(ImageCount::Count(10).of(6000), 10);
    }
}
