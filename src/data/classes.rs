//! Resolving class references (`7`, `"7"`, `"sneaker"`, `"Ankle boot"`, `"tshirt"`) to indices.

use super::{DataError, Dataset};
use crate::config::ClassRef;

/// Lower case, with spaces, underscores and slashes turned into single `-`.
pub fn normalize_class_name(s: &str) -> String {
    let mapped: String = s
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if matches!(c, ' ' | '_' | '/') { '-' } else { c })
        .collect();
    mapped
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Whether `given` (normalized) names `class` (normalized): equal, or equal to a leading run of
/// its `-`-separated words, ignoring the dashes (`t-shirt`, `tshirt` → `t-shirt-top`).
fn prefix_match(given: &str, class: &str) -> bool {
    let compact_given: String = given.chars().filter(|&c| c != '-').collect();
    let mut acc = String::new();
    for word in class.split('-') {
        acc.push_str(word);
        if acc == compact_given {
            return true;
        }
    }
    false
}

/// Index of the class `c` names in `ds`: by index (also a numeric string), or by name,
/// case-insensitive, with spaces / underscores / slashes treated as `-`; a leading part of a
/// multi-word name works when it is unambiguous (`t-shirt`, `ankle`).
pub fn resolve_class(ds: &Dataset, c: &ClassRef) -> Result<usize, DataError> {
    resolve_in(ds.kind.as_str(), &ds.class_names, c)
}

/// [`resolve_class`] over a list of class names (e.g. a dataset's static list, before loading).
pub fn resolve_in<S: AsRef<str>>(
    dataset: &str,
    names: &[S],
    c: &ClassRef,
) -> Result<usize, DataError> {
    let unknown = || DataError::UnknownClass {
        dataset: dataset.to_string(),
        given: c.to_string(),
        valid: names.iter().map(|n| n.as_ref().to_string()).collect(),
    };
    let name = match c {
        ClassRef::Index(i) => {
            return if *i < names.len() {
                Ok(*i)
            } else {
                Err(unknown())
            }
        }
        ClassRef::Name(n) => n,
    };
    if let Ok(i) = name.trim().parse::<usize>() {
        return if i < names.len() {
            Ok(i)
        } else {
            Err(unknown())
        };
    }
    let given = normalize_class_name(name);
    if given.is_empty() {
        return Err(unknown());
    }
    let normalized: Vec<String> = names
        .iter()
        .map(|n| normalize_class_name(n.as_ref()))
        .collect();
    if let Some(i) = normalized.iter().position(|n| *n == given) {
        return Ok(i);
    }
    let hits: Vec<usize> = (0..names.len())
        .filter(|&i| prefix_match(&given, &normalized[i]))
        .collect();
    match hits[..] {
        [i] => Ok(i),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{CIFAR10_CLASSES, FASHION_MNIST_CLASSES, SYNTHETIC_CLASSES};

    fn r(names: &[&str], c: ClassRef) -> Result<usize, DataError> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        resolve_in("test-set", &names, &c)
    }
    fn n(s: &str) -> ClassRef {
        ClassRef::Name(s.into())
    }

    #[test]
    fn fashion_names() {
        let f = &FASHION_MNIST_CLASSES;
        for (given, want) in [
            ("sneaker", 7),
            ("Sneaker", 7),
            ("ankle-boot", 9),
            ("ankle boot", 9),
            ("ANKLE_BOOT", 9),
            ("t-shirt", 0),
            ("tshirt", 0),
            ("t-shirt/top", 0),
            ("T-shirt_top", 0),
            ("shirt", 6),
            ("bag", 8),
            ("3", 3),
            (" 9 ", 9),
        ] {
            assert_eq!(r(f, n(given)).unwrap(), want, "{given}");
        }
        assert_eq!(r(f, ClassRef::Index(4)).unwrap(), 4);
    }

    #[test]
    fn cifar_and_synthetic_names() {
        assert_eq!(r(&CIFAR10_CLASSES, n("deer")).unwrap(), 4);
        assert_eq!(r(&CIFAR10_CLASSES, n("Horse")).unwrap(), 7);
        for (i, name) in SYNTHETIC_CLASSES.iter().enumerate() {
            assert_eq!(r(&SYNTHETIC_CLASSES, n(name)).unwrap(), i);
        }
    }

    #[test]
    fn unknown_lists_valid_names() {
        let e = r(&FASHION_MNIST_CLASSES, n("boot-ankle"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no class \"boot-ankle\"")
                && e.contains("7=sneaker")
                && e.contains("9=ankle boot"),
            "{e}"
        );
        let e = r(&FASHION_MNIST_CLASSES, ClassRef::Index(10))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no class \"10\"") && e.contains("0=t-shirt/top"),
            "{e}"
        );
        assert!(r(&FASHION_MNIST_CLASSES, n("")).is_err());
        assert!(r(&FASHION_MNIST_CLASSES, n("s")).is_err());
    }
}
