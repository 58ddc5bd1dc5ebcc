//! The MVTec AD layout of an image folder: `<category>/train/good/` for training and
//! `<category>/test/{good,<defect>}/` for testing, one group per defect. A part of
//! [`super`]'s walk, using its walker and file records.

use super::{file, Layout, Listed, SourceFile, Split, Walker, MVTEC_CLASSES};
use crate::data::DataError;

pub(super) fn scan_mvtec(w: &mut Walker) -> Result<Listed, DataError> {
    let root = w.root;
    let top = w.entries(root)?;
    let dir_named = |name: &str| {
        top.iter()
            .find(|e| e.name == name && e.meta.is_dir())
            .map(|e| e.path.clone())
    };
    let (Some(train), Some(test)) = (dir_named("train"), dir_named("test")) else {
        // The MVTec root (one folder per category) instead of one category?
        let categories: Vec<&str> = top
            .iter()
            .filter(|e| e.meta.is_dir() && e.path.join("train").join("good").is_dir())
            .map(|e| e.name.as_str())
            .collect();
        let hint = if categories.is_empty() {
            String::new()
        } else {
            format!(
                "; this looks like the MVTec AD root: point data.path at one category, e.g. \
                 {} (categories here: {})",
                root.join(categories[0]).display(),
                categories.join(", ")
            )
        };
        return Err(DataError::format(
            root,
            format!(
                "is not an MVTec AD category folder: expected train/good/ and test/ \
                 (<category>/train/good/*.png, <category>/test/good/*.png, \
                 <category>/test/<defect>/*.png){hint}"
            ),
        ));
    };
    for e in &top {
        if e.name != "train" && e.name != "test" {
            w.ignore(
                &e.path,
                "not train/ or test/ (ground-truth masks are not used)",
            );
        }
    }
    w.enter(&train)?;
    let mut good_train = None;
    for e in w.class_dirs(&train, "outside train/good")? {
        if e.name == "good" {
            good_train = Some(e.path);
        } else {
            w.ignore(&e.path, "MVTec trains on train/good only");
        }
    }
    let Some(good_train) = good_train else {
        return Err(DataError::format(
            &train,
            "has no good/ folder: an MVTec category trains on train/good/*.png",
        ));
    };
    let mut files: Vec<SourceFile> = w
        .images(&good_train, 0)?
        .into_iter()
        .map(|i| file(root, i, Split::Train, 0, None))
        .collect();
    w.enter(&test)?;
    let mut groups = Vec::new();
    let mut defects = Vec::new();
    for e in w.class_dirs(&test, "outside the test/ folders")? {
        let images = w.images(&e.path, 0)?;
        if e.name == "good" {
            files.extend(
                images
                    .into_iter()
                    .map(|i| file(root, i, Split::Test, 0, None)),
            );
        } else if images.is_empty() {
            w.problem(&e.path, "empty defect folder (no image files); left out");
        } else {
            groups.push(e.name);
            defects.push(images);
        }
    }
    for (g, images) in defects.into_iter().enumerate() {
        files.extend(
            images
                .into_iter()
                .map(|i| file(root, i, Split::Test, 1, Some(g))),
        );
    }
    let classes = MVTEC_CLASSES.iter().map(|s| s.to_string()).collect();
    Ok((Layout::Mvtec, classes, groups, files))
}
