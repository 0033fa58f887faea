//! The embedded fixture must stay identical to the team's shared copy when it is present.
#[test]
fn embedded_world_matches_shared_copy() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = here.join("../shared/fixtures/world.sql");
    let ours = std::fs::read(here.join("fixtures/world.sql")).expect("fixtures/world.sql");
    match std::fs::read(&shared) {
        Ok(theirs) => assert!(
            theirs == ours,
            "fixtures/world.sql differs from ../shared/fixtures/world.sql: copy it again"
        ),
        Err(_) => eprintln!("note: ../shared/fixtures not present; nothing to compare"),
    }
}
