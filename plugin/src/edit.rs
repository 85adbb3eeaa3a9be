//! In-place text edits of one `encryptedData` item, so that every other byte of a sealed file
//! stays as it was. When the file's shape makes that impossible, the edit fails instead of
//! reformatting.

use anyhow::{Result, bail};
use seal_api::{Format, to_yaml_string};

/// What to do with the item.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// Set the item to this base64 value (replace or insert).
    Set(&'a str),
    /// Remove the item.
    Remove,
}

/// Applies `change` to item `key` of the one SealedSecret in `text`.
pub fn edit(text: &str, key: &str, change: Change<'_>) -> Result<String> {
    match Format::sniff(text.as_bytes()) {
        Format::Json => edit_json(text, key, change),
        Format::Yaml => edit_yaml(text, key, change),
    }
}

// ------------------------------------------------------------------------------------------
// YAML

struct Line<'a> {
    start: usize,
    /// Without the line break.
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n') {
        let body = piece.strip_suffix('\n').unwrap_or(piece);
        let body = body.strip_suffix('\r').unwrap_or(body);
        out.push(Line { start, text: body });
        start += piece.len();
    }
    out
}

fn indent_of(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

fn is_blank_or_comment(s: &str) -> bool {
    let t = s.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// Splits `key: rest` at the start of `s` (already unindented): the key as a string, and the
/// byte offset where the value starts (after `:` and spaces).
fn yaml_key(s: &str) -> Option<(String, usize)> {
    let (key, after) = if let Some(rest) = s.strip_prefix('"') {
        let mut escaped = false;
        let end = rest.char_indices().find(|&(_, c)| {
            let stop = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            stop
        })?;
        let key: String = serde_json::from_str(&s[..end.0 + 2]).ok()?;
        (key, end.0 + 2)
    } else if let Some(rest) = s.strip_prefix('\'') {
        let mut i = 0;
        let bytes = rest.as_bytes();
        loop {
            if i >= bytes.len() {
                return None;
            }
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                break;
            }
            i += 1;
        }
        (rest[..i].replace("''", "'"), i + 2)
    } else {
        if s.starts_with("- ") || s.starts_with(['{', '[', '?', '&', '*', '!', '|', '>']) {
            return None;
        }
        let colon = s
            .match_indices(':')
            .map(|(i, _)| i)
            .find(|&i| s[i + 1..].is_empty() || s[i + 1..].starts_with([' ', '\t']))?;
        (s[..colon].trim_end().to_owned(), colon)
    };
    let rest = &s[after..];
    let rest = rest.strip_prefix(':')?;
    let value_off = after + 1 + (rest.len() - rest.trim_start().len());
    Some((key, value_off))
}

fn edit_yaml(text: &str, key: &str, change: Change<'_>) -> Result<String> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let all = lines(text);
    let heads: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            yaml_key(l.text.trim_start()).is_some_and(|(k, _)| k == "encryptedData")
                && indent_of(l.text) > 0
        })
        .map(|(i, _)| i)
        .collect();
    let head = match heads.as_slice() {
        [one] => *one,
        [] => bail!("found no encryptedData block to edit"),
        _ => bail!("found several encryptedData blocks; edit a file with one SealedSecret"),
    };
    let head_line = &all[head];
    let head_indent = indent_of(head_line.text);
    let (_, value_off) = yaml_key(head_line.text.trim_start()).expect("matched above");
    let inline = head_line.text.trim_start()[value_off..].trim_end();
    let inline = inline.split(" #").next().unwrap_or("").trim_end();

    // Items: lines indented deeper than the head, until one that is not.
    let mut items: Vec<(usize, String, usize)> = Vec::new(); // (line index, key, value offset)
    let mut item_indent: Option<usize> = None;
    let mut end = head + 1; // line index after the block
    if inline.is_empty() {
        for (i, line) in all.iter().enumerate().skip(head + 1) {
            if is_blank_or_comment(line.text) {
                continue;
            }
            let ind = indent_of(line.text);
            if ind <= head_indent {
                break;
            }
            end = i + 1;
            let want = *item_indent.get_or_insert(ind);
            if ind > want {
                if items.last().is_some_and(|(_, k, _)| k == key) {
                    bail!("the value of {key:?} spans several lines");
                }
                continue;
            }
            if ind < want {
                bail!("the encryptedData block is not consistently indented");
            }
            let (k, off) = yaml_key(line.text.trim_start()).ok_or_else(|| {
                anyhow::anyhow!("cannot read the encryptedData line {:?}", line.text)
            })?;
            items.push((i, k, ind + off));
        }
    } else if inline != "{}" {
        bail!(
            "encryptedData is written inline ({inline}); only block style can be edited in place"
        );
    }

    let quoted_key = to_yaml_string(&serde_json::Value::String(key.to_owned()));
    let quoted_key = quoted_key.trim_end();
    let existing = items.iter().position(|(_, k, _)| k == key);
    let mut out = String::with_capacity(text.len() + 1024);
    match (change, existing) {
        (Change::Set(value), Some(idx)) => {
            let (li, _, off) = &items[idx];
            let line = &all[*li];
            let value_start = line.start + off;
            let value_end = line.start + line.text.len();
            out.push_str(&text[..value_start]);
            out.push_str(value);
            out.push_str(&text[value_end..]);
        }
        (Change::Set(value), None) => {
            let ind = " ".repeat(item_indent.unwrap_or(head_indent + 2));
            let new_line = format!("{ind}{quoted_key}: {value}{newline}");
            if inline == "{}" {
                let head_end = head_line.start + head_line.text.len();
                let colon = head_line.start + head_line.text.find("{}").expect("inline is {}");
                let colon = text[..colon].trim_end().len();
                out.push_str(&text[..colon]);
                out.push_str(newline);
                out.push_str(new_line.trim_end_matches(['\r', '\n']));
                out.push_str(&text[head_end..]);
            } else {
                // Before the first item that sorts after it, else after the block.
                let at = items
                    .iter()
                    .find(|(_, k, _)| k.as_str() > key)
                    .map(|(li, _, _)| all[*li].start)
                    .unwrap_or_else(|| match all.get(end) {
                        Some(l) => l.start,
                        None => text.len(),
                    });
                out.push_str(&text[..at]);
                if at == text.len() && !text.ends_with('\n') {
                    out.push_str(newline);
                }
                out.push_str(&new_line);
                out.push_str(&text[at..]);
            }
        }
        (Change::Remove, Some(idx)) => {
            let (li, _, _) = &items[idx];
            let from = all[*li].start;
            // Up to the next item line, or the end of the block.
            let to_line = items.get(idx + 1).map_or(end, |(next, _, _)| *next);
            let to = all.get(to_line).map_or(text.len(), |l| l.start);
            if items.len() == 1 {
                let head_end = head_line.start + head_line.text.len();
                out.push_str(&text[..head_end]);
                out.push_str(" {}");
                out.push_str(&text[head_end..from]);
                out.push_str(&text[to..]);
            } else {
                out.push_str(&text[..from]);
                out.push_str(&text[to..]);
            }
        }
        (Change::Remove, None) => bail!("there is no item {key:?}"),
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// JSON

#[derive(Debug)]
struct Member {
    key: String,
    key_start: usize,
    value_start: usize,
    value_end: usize,
}

#[derive(Debug)]
struct Object {
    open: usize,
    close: usize,
    members: Vec<Member>,
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
    found: Vec<Object>,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    let raw = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// Parses a value; `path` is the chain of keys leading to it.
    fn value(&mut self, path: &[String]) -> Option<()> {
        self.ws();
        match self.s.get(self.i)? {
            b'{' => {
                let open = self.i;
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let key_start = self.i;
                        let key = self.string()?;
                        self.ws();
                        if self.s.get(self.i) != Some(&b':') {
                            return None;
                        }
                        self.i += 1;
                        self.ws();
                        let value_start = self.i;
                        let mut child = path.to_vec();
                        child.push(key.clone());
                        self.value(&child)?;
                        members.push(Member {
                            key,
                            key_start,
                            value_start,
                            value_end: self.i,
                        });
                        self.ws();
                        match self.s.get(self.i)? {
                            b',' => self.i += 1,
                            b'}' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                if path == ["spec", "encryptedData"] {
                    self.found.push(Object {
                        open,
                        close: self.i - 1,
                        members,
                    });
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.value(&[String::from("[]")])?;
                    self.ws();
                    match self.s.get(self.i)? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => {
                self.string()?;
            }
            _ => {
                while self.i < self.s.len()
                    && !matches!(self.s[self.i], b',' | b'}' | b']')
                    && !self.s[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
            }
        }
        Some(())
    }
}

/// The whitespace before position `at` on its line, if only whitespace precedes it.
fn line_indent(text: &str, at: usize) -> Option<&str> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..at];
    before
        .chars()
        .all(|c| c == ' ' || c == '\t')
        .then_some(before)
}

fn edit_json(text: &str, key: &str, change: Change<'_>) -> Result<String> {
    let mut sc = Scanner {
        s: text.as_bytes(),
        i: 0,
        found: Vec::new(),
    };
    if sc.value(&[]).is_none() {
        bail!("cannot read the JSON");
    }
    sc.ws();
    if sc.i != text.len() {
        bail!("the file holds more than one JSON document; edit a file with one SealedSecret");
    }
    let obj = match sc.found.len() {
        1 => sc.found.remove(0),
        0 => bail!("found no spec.encryptedData object to edit"),
        _ => bail!("found several spec.encryptedData objects"),
    };
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let members = &obj.members;
    let quoted_key = serde_json::to_string(key)?;
    let existing = members.iter().position(|m| m.key == key);
    let mut out = String::with_capacity(text.len() + 1024);
    match (change, existing) {
        (Change::Set(value), Some(i)) => {
            let m = &members[i];
            if !text[m.value_start..].starts_with('"') {
                bail!("the value of {key:?} is not a string");
            }
            out.push_str(&text[..m.value_start]);
            out.push('"');
            out.push_str(value);
            out.push('"');
            out.push_str(&text[m.value_end..]);
        }
        (Change::Set(value), None) => {
            let member = format!("{quoted_key}: \"{value}\"");
            if members.is_empty() {
                let line_start = text[..obj.open].rfind('\n').map_or(0, |i| i + 1);
                let line = &text[line_start..obj.open];
                let head_indent = &line[..line.len() - line.trim_start().len()];
                out.push_str(&text[..=obj.open]);
                out.push_str(&format!(
                    "{newline}{head_indent}  {member}{newline}{head_indent}"
                ));
                out.push_str(&text[obj.close..]);
            } else {
                let sep = if members.len() >= 2 {
                    text[members[0].value_end..members[1].key_start].to_owned()
                } else {
                    match line_indent(text, members[0].key_start) {
                        Some(ind) => format!(",{newline}{ind}"),
                        None => ", ".to_owned(),
                    }
                };
                match members.iter().find(|m| m.key.as_str() > key) {
                    Some(next) => {
                        out.push_str(&text[..next.key_start]);
                        out.push_str(&member);
                        out.push_str(&sep);
                        out.push_str(&text[next.key_start..]);
                    }
                    None => {
                        let last = members.last().expect("not empty");
                        out.push_str(&text[..last.value_end]);
                        out.push_str(&sep);
                        out.push_str(&member);
                        out.push_str(&text[last.value_end..]);
                    }
                }
            }
        }
        (Change::Remove, Some(i)) => {
            let (from, to) = if let Some(next) = members.get(i + 1) {
                (members[i].key_start, next.key_start)
            } else if i > 0 {
                (members[i - 1].value_end, members[i].value_end)
            } else {
                (obj.open + 1, obj.close)
            };
            out.push_str(&text[..from]);
            out.push_str(&text[to..]);
        }
        (Change::Remove, None) => bail!("there is no item {key:?}"),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: prod\nspec:\n  encryptedData:\n    a: AgAAA\n    c: AgCCC\n  template:\n    metadata:\n      name: db\n";

    const JSON: &str = "{\n  \"kind\": \"SealedSecret\",\n  \"spec\": {\n    \"template\": {\"metadata\": {\"name\": \"x\"}},\n    \"encryptedData\": {\n      \"a\": \"AgAAA\",\n      \"c\": \"AgCCC\"\n    }\n  }\n}\n";

    #[test]
    fn yaml_replace_touches_only_the_value() {
        let out = edit(YAML, "c", Change::Set("AgNEW")).expect("edit");
        assert_eq!(out, YAML.replace("c: AgCCC", "c: AgNEW"));
    }

    #[test]
    fn yaml_insert_keeps_the_order_and_the_rest() {
        let out = edit(YAML, "b", Change::Set("AgBBB")).expect("edit");
        assert_eq!(
            out,
            YAML.replace("    c: AgCCC", "    b: AgBBB\n    c: AgCCC")
        );
        let out = edit(YAML, "z", Change::Set("AgZ")).expect("edit");
        assert_eq!(
            out,
            YAML.replace("    c: AgCCC\n", "    c: AgCCC\n    z: AgZ\n")
        );
    }

    #[test]
    fn yaml_remove_and_empty() {
        let out = edit(YAML, "a", Change::Remove).expect("edit");
        assert_eq!(out, YAML.replace("    a: AgAAA\n", ""));
        let out = edit(&out, "c", Change::Remove).expect("edit");
        assert_eq!(
            out,
            YAML.replace(
                "  encryptedData:\n    a: AgAAA\n    c: AgCCC\n",
                "  encryptedData: {}\n"
            )
        );
        let back = edit(&out, "k", Change::Set("AgK")).expect("edit");
        assert_eq!(
            back,
            YAML.replace("    a: AgAAA\n    c: AgCCC\n", "    k: AgK\n")
        );
        assert!(edit(YAML, "nope", Change::Remove).is_err());
    }

    #[test]
    fn yaml_quoted_keys_are_found() {
        let y = YAML.replace("    c: AgCCC", "    \".dockerconfigjson\": AgCCC");
        let out = edit(&y, ".dockerconfigjson", Change::Set("AgN")).expect("edit");
        assert!(out.contains("    \".dockerconfigjson\": AgN\n"));
    }

    #[test]
    fn yaml_inline_maps_are_refused() {
        let y = YAML.replace(
            "  encryptedData:\n    a: AgAAA\n    c: AgCCC\n",
            "  encryptedData: {a: AgAAA}\n",
        );
        assert!(edit(&y, "a", Change::Set("x")).is_err());
    }

    #[test]
    fn json_replace_insert_remove() {
        let out = edit(JSON, "a", Change::Set("AgNEW")).expect("edit");
        assert_eq!(out, JSON.replace("\"AgAAA\"", "\"AgNEW\""));
        let out = edit(JSON, "b", Change::Set("AgB")).expect("edit");
        assert_eq!(
            out,
            JSON.replace("      \"c\"", "      \"b\": \"AgB\",\n      \"c\"")
        );
        let out = edit(JSON, "d", Change::Set("AgD")).expect("edit");
        assert_eq!(
            out,
            JSON.replace("\"AgCCC\"", "\"AgCCC\",\n      \"d\": \"AgD\"")
        );
        let out = edit(JSON, "c", Change::Remove).expect("edit");
        assert_eq!(out, JSON.replace(",\n      \"c\": \"AgCCC\"", ""));
        let out = edit(JSON, "a", Change::Remove).expect("edit");
        assert_eq!(out, JSON.replace("\"a\": \"AgAAA\",\n      ", ""));
        let empty = edit(&out, "c", Change::Remove).expect("edit");
        assert!(empty.contains("\"encryptedData\": {}"), "{empty}");
        let again = edit(&empty, "k", Change::Set("AgK")).expect("edit");
        assert!(
            again.contains("\"encryptedData\": {\n      \"k\": \"AgK\"\n    }"),
            "{again}"
        );
    }
}
