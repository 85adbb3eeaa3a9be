//! The evaluator: a port of Go's `text/template/exec.go` over [`Value`]s.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::funcs::{self, Func, T};
use super::more::member as funcs_member;
use super::parse::{Arg, Branch, Cmd, Node, Number, Pipe, TreeSet};
use super::value::{MapRef, TooDeep, Value, go_quote, write_v};
use super::{MAX_ALLOC, MAX_DEPTH, MAX_NEST, MAX_OUTPUT, MAX_STEPS};

/// Control flow out of a walk: an error, or `break`/`continue` unwinding to
/// the enclosing `range`.
pub(super) enum Flow {
    Err(String),
    Break,
    Continue,
}

type R<T> = Result<T, Flow>;

/// The node an error is reported at (Go's `state.node`).
#[derive(Clone, Copy)]
enum At<'a> {
    Node(&'a Node),
    Arg(&'a Arg),
    Pipe(&'a Pipe),
    Cmd(&'a Cmd),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => match n {
                Node::Text { .. } => 0,
                Node::Action { pos, .. }
                | Node::Template { pos, .. }
                | Node::Break { pos }
                | Node::Continue { pos } => *pos,
                Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
            },
            At::Arg(a) => a.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::Arg(a) => a.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
        }
    }
}

/// Execution state for one `render` call.
pub(super) struct Exec<'a> {
    /// The top-level template name (Go's `ParseName`).
    parse_name: &'a str,
    src: &'a str,
    set: &'a TreeSet,
    /// The template currently executing (Go's `tmpl.Name()`).
    tmpl: String,
    at: Option<At<'a>>,
    pub(super) vars: Vec<(String, Value)>,
    depth: usize,
    /// Nested walks and pipelines in progress, across template calls: it
    /// bounds the native stack the interpreter can use.
    nest: usize,
    steps: u64,
    alloc: usize,
    pub(super) out: String,
    /// Every map created during execution, cleared at the end so that
    /// reference cycles built with `set` cannot leak.
    pub(super) maps: Vec<MapRef>,
    /// Number of bcrypt hashes computed (each costs tens of milliseconds).
    pub(super) bcrypt_calls: usize,
    /// Keys generated or imported (see `keys::MAX_KEYS`).
    pub(super) key_calls: usize,
    /// `derivePassword` calls (see `more::MAX_SCRYPT`).
    pub(super) scrypt_calls: usize,
    /// Regular expressions compiled so far, by pattern (see `funcs::cached_regex`). Shared,
    /// not cloned: a cloned `Regex` starts with an empty match cache, as costly as compiling.
    pub(super) regexes: std::collections::HashMap<String, Rc<regex::Regex>>,
}

impl<'a> Exec<'a> {
    pub(super) fn new(parse_name: &'a str, src: &'a str, set: &'a TreeSet) -> Self {
        Exec {
            parse_name,
            src,
            set,
            tmpl: parse_name.to_string(),
            at: None,
            vars: Vec::new(),
            depth: 0,
            nest: 0,
            steps: 0,
            alloc: 0,
            out: String::new(),
            maps: Vec::new(),
            bcrypt_calls: 0,
            key_calls: 0,
            scrypt_calls: 0,
            regexes: std::collections::HashMap::new(),
        }
    }

    /// Runs the top-level template with `dot`.
    pub(super) fn run(&mut self, dot: Value) -> Result<(), String> {
        let Some(root) = self.set.trees.get(self.parse_name) else {
            return Err(format!(
                "template: {}: {} is an incomplete or empty template",
                self.parse_name,
                go_quote(self.parse_name)
            ));
        };
        self.vars.push(("$".into(), dot.clone()));
        match self.walk_list(&dot, root) {
            Ok(()) => Ok(()),
            Err(Flow::Err(e)) => Err(e),
            // The parser rejects break/continue outside range.
            Err(Flow::Break | Flow::Continue) => Ok(()),
        }
    }

    /// Registers a new map so it is cleared when execution ends.
    pub(super) fn new_map(&mut self, m: BTreeMap<String, Value>) -> MapRef {
        let r = Rc::new(std::cell::RefCell::new(m));
        self.maps.push(r.clone());
        r
    }

    fn at(&mut self, at: At<'a>) {
        self.at = Some(at);
    }

    /// Go's `state.errorf`.
    pub(super) fn errorf(&self, msg: impl std::fmt::Display) -> Flow {
        let Some(at) = self.at else {
            return Flow::Err(format!("template: {}: {}", self.parse_name, msg));
        };
        let pos = at.pos().min(self.src.len());
        let text = self.src.get(..pos).unwrap_or(self.src);
        let (line, col) = match text.rfind('\n') {
            None => (1, pos),
            Some(i) => (1 + text.matches('\n').count(), pos - (i + 1)),
        };
        Flow::Err(format!(
            "template: {}:{}:{}: executing {} at <{}>: {}",
            self.parse_name,
            line,
            col,
            go_quote(&self.tmpl),
            at.context(),
            msg
        ))
    }

    fn step(&mut self) -> R<()> {
        self.charge_steps(1)
    }

    /// Charges `n` evaluation steps, for work that costs as much as `n` actions.
    pub(super) fn charge_steps(&mut self, n: u64) -> R<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > MAX_STEPS {
            return Err(self.errorf(format!("template exceeded {MAX_STEPS} evaluation steps")));
        }
        Ok(())
    }

    /// Charges `bytes` against the allocation budget.
    pub(super) fn charge(&mut self, bytes: usize) -> R<()> {
        self.alloc = self.alloc.saturating_add(bytes);
        if self.alloc > MAX_ALLOC {
            return Err(self.errorf(format!(
                "template allocated more than {} MiB",
                MAX_ALLOC >> 20
            )));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(self.errorf(format!("output exceeds {} MiB", MAX_OUTPUT >> 20)));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &'a [Node]) -> R<()> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> R<()> {
        self.step()?;
        self.at(At::Node(node));
        self.nest += 1;
        let r = if self.nest > MAX_NEST {
            Err(self.errorf(format!("exceeded maximum nesting depth ({MAX_NEST})")))
        } else {
            self.walk_node(dot, node)
        };
        self.nest -= 1;
        r
    }

    fn walk_node(&mut self, dot: &Value, node: &'a Node) -> R<()> {
        match node {
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print_value(node, &val)?;
                }
                Ok(())
            }
            Node::Break { .. } => Err(Flow::Break),
            Node::Continue { .. } => Err(Flow::Continue),
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
            Node::Text { text } => self.write(text),
        }
    }

    fn print_value(&mut self, node: &'a Node, v: &Value) -> R<()> {
        self.at(At::Node(node));
        let mut s = String::new();
        if write_v(&mut s, v, 0).is_err() {
            return Err(self.errorf("value too large or too deeply nested to print"));
        }
        self.write(&s)
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, b: &'a Branch) -> R<()> {
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, &b.pipe)?;
            if val.truth() {
                if with {
                    self.walk_list(&val, &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Value, node: &'a Node, b: &'a Branch) -> R<()> {
        self.at(At::Node(node));
        let outer = self.vars.len();
        let r = self.walk_range_inner(dot, b);
        self.vars.truncate(outer);
        match r {
            Err(Flow::Break) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(&mut self, dot: &Value, b: &'a Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let items: Vec<(Value, Value)> = match &val {
            Value::List(l, _) => l
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v.clone()))
                .collect(),
            Value::Map(m, _) => {
                let m = m
                    .try_borrow()
                    .map_err(|_| self.errorf("map is being modified"))?;
                m.iter()
                    .map(|(k, v)| (Value::str(k.as_str()), v.clone()))
                    .collect()
            }
            // Go 1.22: range over an integer.
            Value::Int(_) | Value::Int64(_) | Value::Uint8(_) => {
                let n = val.as_int().unwrap_or(0);
                if b.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use {n} to iterate over more than one variable"
                    )));
                }
                if n > 0 && n as u64 > MAX_STEPS {
                    return Err(
                        self.errorf(format!("template exceeded {MAX_STEPS} evaluation steps"))
                    );
                }
                let mk = |i: i64| match val {
                    Value::Int(_) => Value::Int(i),
                    Value::Uint8(_) => Value::Uint8(i as u8),
                    _ => Value::Int64(i),
                };
                (0..n.max(0)).map(|i| (mk(i), mk(i))).collect()
            }
            Value::Missing => Vec::new(),
            other => {
                let shown = super::value::sprint(other).unwrap_or_default();
                return Err(self.errorf(format!("range can't iterate over {shown}")));
            }
        };
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                return self.walk_list(dot, e);
            }
            return Ok(());
        }
        let ndecl = b.pipe.decl.len();
        for (index, elem) in items {
            self.step()?;
            if ndecl > 0 {
                self.set_top_var(1, elem.clone(), &b.pipe);
            }
            if ndecl > 1 {
                self.set_top_var(2, index, &b.pipe);
            }
            let r = self.walk_list(&elem, &b.list);
            self.vars.truncate(mark);
            match r {
                Ok(()) | Err(Flow::Continue) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn set_top_var(&mut self, n: usize, v: Value, pipe: &Pipe) {
        if pipe.is_assign {
            // `range $x = ...` assigns the named, already-declared variables.
            let name = &pipe.decl[pipe.decl.len() - n].1;
            if let Some(slot) = self.vars.iter_mut().rev().find(|(k, _)| k == name) {
                slot.1 = v;
            }
            return;
        }
        let len = self.vars.len();
        if len >= n {
            self.vars[len - n].1 = v;
        }
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        node: &'a Node,
        name: &str,
        pipe: Option<&'a Pipe>,
    ) -> R<()> {
        self.at(At::Node(node));
        let Some(root) = self.set.trees.get(name) else {
            return Err(self.errorf(format!("template {} not defined", go_quote(name))));
        };
        if self.depth >= MAX_DEPTH {
            return Err(self.errorf(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Missing,
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
        let saved_tmpl = std::mem::replace(&mut self.tmpl, name.to_string());
        self.depth += 1;
        let r = self.walk_list(&new_dot, root);
        self.depth -= 1;
        self.tmpl = saved_tmpl;
        self.vars = saved_vars;
        r
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> R<Value> {
        self.at(At::Pipe(pipe));
        self.nest += 1;
        let r = if self.nest > MAX_NEST {
            Err(self.errorf(format!("exceeded maximum nesting depth ({MAX_NEST})")))
        } else {
            self.eval_pipeline_inner(dot, pipe)
        };
        self.nest -= 1;
        r
    }

    fn eval_pipeline_inner(&mut self, dot: &Value, pipe: &'a Pipe) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            let mut v = self.eval_command(dot, cmd, value.take())?;
            // A nil interface result becomes an invalid value ("<no value>").
            if let Value::Nil = v {
                v = Value::Missing;
            }
            value = Some(v);
        }
        let value = value.unwrap_or(Value::Missing);
        for (_, name) in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn set_var(&mut self, name: &str, v: Value) -> R<()> {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(k, _)| k == name) {
            slot.1 = v;
            return Ok(());
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn var_value(&self, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn not_a_function(&self, args: &[Arg], final_: &Option<Value>) -> R<()> {
        if args.len() > 1 || final_.is_some() {
            return Err(self.errorf(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Cmd, final_: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at(At::Arg(first));
                return self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, final_);
            }
            Arg::Chain { .. } => return self.eval_chain_node(dot, first, &cmd.args, final_),
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args, final_);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable_node(dot, first, &cmd.args, final_),
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &final_)?;
        match first {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number { num, .. } => self.ideal_constant(first, num),
            Arg::String { text, .. } => Ok(Value::str(text.as_str())),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                go_quote(&first.to_string())
            ))),
        }
    }

    fn ideal_constant(&mut self, at: &'a Arg, n: &Number) -> R<Value> {
        self.at(At::Arg(at));
        let is_hex_int = n.text.len() > 2
            && n.text.starts_with('0')
            && matches!(n.text.as_bytes()[1], b'x' | b'X')
            && !n.text.contains(['p', 'P']);
        let is_rune = n.text.starts_with('\'');
        if n.is_complex {
            return Err(self.errorf("complex numbers are not supported"));
        }
        if n.is_float && !is_hex_int && !is_rune && n.text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(n.float));
        }
        if n.is_int {
            return Ok(Value::Int(n.int));
        }
        if n.is_uint {
            return Err(self.errorf(format!("{} overflows int", n.text)));
        }
        Ok(Value::Missing)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Value,
        chain: &'a Arg,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else {
            return Err(self.errorf("internal error: not a chain"));
        };
        if let Arg::Nil { .. } = node.as_ref() {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        let pipe = self.eval_arg(dot, None, node)?;
        self.eval_field_chain(dot, pipe, chain, fields, args, final_)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Value,
        var: &'a Arg,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(var));
        let Arg::Variable { idents, .. } = var else {
            return Err(self.errorf("internal error: not a variable"));
        };
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            self.not_a_function(args, &final_)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, var, &idents[1..], args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        node: &'a Arg,
        idents: &[String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        let n = idents.len();
        let mut wrapped = false;
        for ident in &idents[..n - 1] {
            (receiver, wrapped) =
                self.eval_field(dot, ident, node, &[], None, receiver, wrapped)?;
        }
        Ok(self
            .eval_field(dot, &idents[n - 1], node, args, final_, receiver, wrapped)?
            .0)
    }

    /// Go's `evalField`. `wrapped` tells that the receiver came out of a
    /// `map[string]interface {}`, so Go would name its type `interface {}`.
    #[allow(clippy::too_many_arguments)] // Go's evalField, plus dot for method arguments
    fn eval_field(
        &mut self,
        dot: &Value,
        field: &str,
        node: &'a Arg,
        args: &'a [Arg],
        final_: Option<Value>,
        receiver: Value,
        wrapped: bool,
    ) -> R<(Value, bool)> {
        // Like Go, report at whatever node was evaluated last.
        let _ = node;
        match &receiver {
            Value::Missing => Ok((Value::Missing, false)),
            Value::Nil => {
                Err(self.errorf(format!("nil pointer evaluating interface {{}}.{field}")))
            }
            Value::Obj(o) => {
                // Go checks a method's arity before evaluating its arguments.
                let given = args.len().saturating_sub(1) + usize::from(final_.is_some());
                if given > 0 && matches!(**o, super::value::Obj::Cert { .. }) {
                    return Err(self.errorf(format!(
                        "{field} has arguments but cannot be invoked as function"
                    )));
                }
                if let Some(want) = super::more::arity(o, field)
                    && want != given
                {
                    return Err(self.errorf(format!(
                        "wrong number of args for {field}: want {want} got {given}"
                    )));
                }
                let mut argv = Vec::new();
                for arg in args.iter().skip(1) {
                    argv.push(self.eval_arg(dot, None, arg)?);
                }
                if let Some(f) = final_ {
                    argv.push(f);
                }
                match funcs_member(o, field, &argv) {
                    Ok(Some(v)) => Ok((v, false)),
                    Ok(None) => Err(self.errorf(format!(
                        "can't evaluate field {field} in type {}",
                        receiver.type_name()
                    ))),
                    Err(e) => Err(self.errorf(e)),
                }
            }
            Value::Map(m, elem) => {
                if args.len() > 1 || final_.is_some() {
                    return Err(self.errorf(format!("{field} is not a method but has arguments")));
                }
                let v = m.try_borrow().ok().and_then(|m| m.get(field).cloned());
                Ok((
                    v.unwrap_or(Value::Missing),
                    *elem == super::value::Elem::Any,
                ))
            }
            other => {
                let typ = if wrapped {
                    "interface {}".to_string()
                } else {
                    other.type_name()
                };
                Err(self.errorf(format!("can't evaluate field {field} in type {typ}")))
            }
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        ident: &'a Arg,
        name: &str,
        node: At<'a>,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(ident));
        let Some(func) = funcs::lookup(name) else {
            return Err(self.errorf(format!("{} is not a defined function", go_quote(name))));
        };
        self.eval_call(dot, &func, node, name, args, final_)
    }

    fn eval_call(
        &mut self,
        dot: &Value,
        func: &Func,
        node: At<'a>,
        name: &str,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.step()?;
        let args = if args.is_empty() { args } else { &args[1..] };
        let num_in = args.len() + usize::from(final_.is_some());
        let num_fixed = if func.variadic.is_some() {
            func.params.len()
        } else {
            args.len()
        };
        if func.variadic.is_some() {
            if num_in < num_fixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    func.params.len(),
                    args.len()
                )));
            }
        } else if num_in != func.params.len() {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                func.params.len()
            )));
        }
        if name == "and" || name == "or" {
            let mut v = Value::Missing;
            for arg in args {
                v = self.eval_arg(dot, Some(T::RV), arg)?;
                if v.truth() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(f) = final_ {
                v = self.validate_type(f, Some(T::RV))?;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            argv.push(self.eval_arg(dot, Some(func.params[i]), &args[i])?);
            i += 1;
        }
        if let Some(vt) = func.variadic {
            while i < args.len() {
                argv.push(self.eval_arg(dot, Some(vt), &args[i])?);
                i += 1;
            }
        }
        if let Some(f) = final_ {
            let t = match func.variadic {
                Some(vt) => {
                    if num_in - 1 < num_fixed {
                        func.params[num_in - 1]
                    } else {
                        vt
                    }
                }
                None => func.params[func.params.len() - 1],
            };
            argv.push(self.validate_type(f, Some(t))?);
        }
        match (func.imp)(self, argv) {
            Ok(v) => {
                self.charge(v.shallow_size())?;
                Ok(v)
            }
            Err(FnErr::Msg(msg)) => {
                self.at(node);
                Err(self.errorf(format!("error calling {name}: {msg}")))
            }
            Err(FnErr::Flow(f)) => Err(f),
        }
    }

    fn validate_type(&mut self, value: Value, typ: Option<T>) -> R<Value> {
        let Some(typ) = typ else {
            return Ok(value);
        };
        if let Value::Missing = value {
            return match typ {
                T::Any => Ok(Value::Nil),
                T::RV => Ok(Value::Missing),
                T::MapSI => Ok(Value::nil_map(super::value::Elem::Any)),
                T::ListAny => Ok(Value::nil_list(super::value::Elem::Any)),
                _ => Err(self.errorf(format!("invalid value; expected {}", typ.name()))),
            };
        }
        let ok = match typ {
            T::Any | T::RV => true,
            T::Str => matches!(value, Value::Str(_)),
            T::Int => matches!(value, Value::Int(_)),
            T::Float => matches!(value, Value::Float(_)),
            T::Bool => matches!(value, Value::Bool(_)),
            T::MapSI => matches!(value, Value::Map(_, super::value::Elem::Any)),
            T::ListAny => matches!(value, Value::List(_, super::value::Elem::Any)),
            T::Uint32 => false,
            T::Time => {
                matches!(&value, Value::Obj(o) if matches!(**o, super::value::Obj::Time(_)))
            }
            T::Cert => {
                matches!(&value, Value::Obj(o) if matches!(**o, super::value::Obj::Cert { .. }))
            }
        };
        if ok {
            return Ok(value);
        }
        let got = if let Value::Nil = value {
            "interface {}".to_string()
        } else {
            value.type_name()
        };
        Err(self.errorf(format!(
            "wrong type for value; expected {}; got {got}",
            typ.name()
        )))
    }

    fn eval_arg(&mut self, dot: &Value, typ: Option<T>, n: &'a Arg) -> R<Value> {
        self.at(At::Arg(n));
        match n {
            Arg::Dot { .. } => return self.validate_type(dot.clone(), typ),
            Arg::Nil { .. } => {
                return match typ {
                    None | Some(T::Any) => Ok(Value::Nil),
                    Some(T::MapSI) => Ok(Value::nil_map(super::value::Elem::Any)),
                    Some(T::ListAny) => Ok(Value::nil_list(super::value::Elem::Any)),
                    Some(T::RV) => Ok(Value::Missing),
                    Some(t) => Err(self.errorf(format!("cannot assign nil to {}", t.name()))),
                };
            }
            Arg::Field { idents, .. } => {
                let v = self.eval_field_chain(
                    dot,
                    dot.clone(),
                    n,
                    idents,
                    std::slice::from_ref(n),
                    None,
                )?;
                return self.validate_type(v, typ);
            }
            Arg::Variable { .. } => {
                let v = self.eval_variable_node(dot, n, &[], None)?;
                return self.validate_type(v, typ);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, p)?;
                return self.validate_type(v, typ);
            }
            Arg::Identifier { name, .. } => {
                let v =
                    self.eval_function(dot, n, name, At::Arg(n), std::slice::from_ref(n), None)?;
                return self.validate_type(v, typ);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain_node(dot, n, &[], None)?;
                return self.validate_type(v, typ);
            }
            _ => {}
        }
        match typ {
            Some(T::Bool) => match n {
                Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
                _ => Err(self.errorf(format!("expected bool; found {n}"))),
            },
            Some(T::Float) => match n {
                Arg::Number { num, .. } if num.is_float => Ok(Value::Float(num.float)),
                _ => Err(self.errorf(format!("expected float; found {n}"))),
            },
            Some(T::Int) => match n {
                Arg::Number { num, .. } if num.is_int => Ok(Value::Int(num.int)),
                _ => Err(self.errorf(format!("expected integer; found {n}"))),
            },
            Some(T::Str) => match n {
                Arg::String { text, .. } => Ok(Value::str(text.as_str())),
                _ => Err(self.errorf(format!("expected string; found {n}"))),
            },
            Some(T::Uint32) => match n {
                Arg::Number { num, .. }
                    if num.is_int && (0..=i64::from(u32::MAX)).contains(&num.int) =>
                {
                    Ok(Value::Int(num.int))
                }
                Arg::Number { num, .. } if num.is_int && num.int >= 0 => {
                    Err(self.errorf(format!("overflow: {}", num.int)))
                }
                _ => Err(self.errorf(format!("expected unsigned integer; found {n}"))),
            },
            None | Some(T::Any | T::RV) => match n {
                Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
                Arg::Number { num, .. } => self.ideal_constant(n, num),
                Arg::String { text, .. } => Ok(Value::str(text.as_str())),
                _ => Err(self.errorf(format!(
                    "can't handle assignment of {n} to empty interface argument"
                ))),
            },
            Some(t) => Err(self.errorf(format!("can't handle {n} for arg of type {}", t.name()))),
        }
    }
}

/// A function's failure: a message Go prefixes with "error calling NAME: ",
/// or an already formatted error (budget exhaustion).
pub(super) enum FnErr {
    Msg(String),
    Flow(Flow),
}

impl From<String> for FnErr {
    fn from(s: String) -> Self {
        FnErr::Msg(s)
    }
}

impl From<&str> for FnErr {
    fn from(s: &str) -> Self {
        FnErr::Msg(s.to_string())
    }
}

impl From<Flow> for FnErr {
    fn from(f: Flow) -> Self {
        FnErr::Flow(f)
    }
}

impl From<TooDeep> for FnErr {
    fn from(_: TooDeep) -> Self {
        FnErr::Msg("value too large or too deeply nested".into())
    }
}
