//! The lists as one caller sees them: every entry without access rules, else only
//! the ones its grant allows (so a list never names what a call would not find).

use std::borrow::Cow;

use serde_json::Value;

use super::context::RequestContext;

/// Which list.
#[derive(Clone, Copy)]
pub(super) enum List {
    Tools,
    Resources,
    Templates,
    Prompts,
}

/// The entries of `list` the caller of `cx` may see, in the snapshot's order.
pub(super) fn entries(cx: &RequestContext, list: List) -> Cow<'_, [Value]> {
    let snapshot = &cx.snapshot;
    let all = match list {
        List::Tools => &snapshot.tools_json,
        List::Resources => &snapshot.resources_json,
        List::Templates => &snapshot.templates_json,
        List::Prompts => &snapshot.prompts_json,
    };
    if !cx.grant.is_ruled() {
        return Cow::Borrowed(all);
    }
    let grant = &cx.grant;
    let key = match list {
        List::Tools | List::Prompts => "name",
        List::Resources => "uri",
        List::Templates => "uriTemplate",
    };
    let shown = |entry: &&Value| {
        let Some(name) = entry.get(key).and_then(Value::as_str) else { return false };
        match list {
            List::Tools => snapshot.tool(name).is_some_and(|p| grant.tool(&p.name, name)),
            List::Resources => snapshot.resource(name).is_some_and(|p| grant.resource(&p.name, name)),
            List::Templates => snapshot.template(name).is_some_and(|p| grant.template(&p.name, name)),
            List::Prompts => snapshot.prompt(name).is_some_and(|p| grant.prompt(&p.name, name)),
        }
    };
    Cow::Owned(all.iter().filter(shown).cloned().collect())
}
