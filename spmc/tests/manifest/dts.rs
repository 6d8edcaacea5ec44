//! A compiler for the small subset of DTS our manifests use (nodes, flags, strings, cell
//! lists, comments), so tests can feed the real sources to the real parsers without dtc.
//! It rejects anything outside the subset rather than guessing.

use dtoolkit::model::{DeviceTree, DeviceTreeNode, DeviceTreeProperty};

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Punct(char),
}

/// Splits a source into its code and its comment text (`/* */` and `//`, outside strings).
/// Newlines stay in the code so that line structure is kept.
pub fn split_comments(source: &str) -> (String, String) {
    let mut code = String::new();
    let mut comments = String::new();
    let mut chars = source.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            code.push(c);
            in_string = c != '"';
        } else if c == '"' {
            code.push(c);
            in_string = true;
        } else if c == '/' && chars.peek() == Some(&'*') {
            chars.next();
            let mut last = ' ';
            for c in chars.by_ref() {
                if last == '*' && c == '/' {
                    break;
                }
                if c == '\n' {
                    code.push('\n');
                }
                comments.push(c);
                last = c;
            }
            comments.push('\n');
        } else if c == '/' && chars.peek() == Some(&'/') {
            chars.next();
            for c in chars.by_ref() {
                if c == '\n' {
                    code.push('\n');
                    break;
                }
                comments.push(c);
            }
            comments.push('\n');
        } else {
            code.push(c);
        }
    }
    (code, comments)
}

fn tokenize(source: &str) -> Vec<Token> {
    let (code, _) = split_comments(source);
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    let starts_word = |c: char| c.is_ascii_alphanumeric() || "_#/".contains(c);
    let in_word = |c: char| c.is_ascii_alphanumeric() || ",._+#@-/".contains(c);
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let text: String = chars.by_ref().take_while(|&c| c != '"').collect();
            assert!(!text.contains('\\'), "escapes are outside the subset");
            tokens.push(Token::Str(text));
        } else if starts_word(c) {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if !in_word(c) {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token::Word(word));
        } else if "{}<>;=,".contains(c) {
            tokens.push(Token::Punct(c));
            chars.next();
        } else {
            panic!("character {c:?} is outside the DTS subset");
        }
    }
    tokens
}

fn number(word: &str) -> u32 {
    match word.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => word.parse(),
    }
    .unwrap_or_else(|_| panic!("{word:?} is not a 32-bit cell"))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> &Token {
        let token = self.tokens.get(self.at).expect("unexpected end of source");
        self.at += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn expect(&mut self, c: char) {
        let token = self.next();
        assert_eq!(token, &Token::Punct(c), "expected {c:?}");
    }

    fn word(&mut self) -> String {
        match self.next() {
            Token::Word(w) => w.clone(),
            other => panic!("expected a name, found {other:?}"),
        }
    }

    /// `{ items };` after the node's name.
    fn node_body(&mut self, node: &mut DeviceTreeNode) {
        self.expect('{');
        while self.peek() != Some(&Token::Punct('}')) {
            let name = self.word();
            match self.next() {
                Token::Punct(';') => {
                    node.add_property(DeviceTreeProperty::new(name, &[][..] as &[u8]).unwrap())
                }
                Token::Punct('=') => {
                    let value = self.value();
                    node.add_property(DeviceTreeProperty::new(name, value).unwrap());
                }
                Token::Punct('{') => {
                    self.at -= 1;
                    let mut child = DeviceTreeNode::new(name).unwrap();
                    self.node_body(&mut child);
                    node.add_child(child);
                }
                other => panic!("unexpected {other:?} after {name}"),
            }
        }
        self.expect('}');
        self.expect(';');
    }

    /// Strings and cell lists, comma-separated, up to `;`.
    fn value(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        loop {
            match self.next() {
                Token::Str(s) => {
                    bytes.extend_from_slice(s.as_bytes());
                    bytes.push(0);
                }
                Token::Punct('<') => loop {
                    match self.next() {
                        Token::Punct('>') => break,
                        Token::Word(w) => {
                            let cell = number(&w.clone());
                            bytes.extend_from_slice(&cell.to_be_bytes());
                        }
                        other => panic!("unexpected {other:?} in a cell list"),
                    }
                },
                other => panic!("unexpected {other:?} in a value"),
            }
            match self.next() {
                Token::Punct(',') => continue,
                Token::Punct(';') => return bytes,
                other => panic!("expected ',' or ';', found {other:?}"),
            }
        }
    }
}

/// Compiles a DTS source of the subset into a tree.
pub fn compile(source: &str) -> DeviceTree {
    let mut parser = Parser {
        tokens: tokenize(source),
        at: 0,
    };
    assert_eq!(parser.word(), "/dts-v1/");
    parser.expect(';');
    assert_eq!(parser.word(), "/");
    let mut tree = DeviceTree::new();
    parser.node_body(&mut tree.root);
    assert!(
        parser.peek().is_none(),
        "trailing tokens after the root node"
    );
    tree
}

#[test]
fn the_subset_compiles_like_dtc() {
    let tree = compile(
        "/dts-v1/;\n/* c */ / { a = <0x1 2>, <3>; // x\n b; c = \"s\", \"t\"; n@1 { d = <0xffffffff>; }; };",
    );
    let dtb = tree.to_dtb();
    let fdt = dtoolkit::fdt::Fdt::new(&dtb).unwrap();
    use dtoolkit::{Node, Property};
    let root = fdt.root();
    assert_eq!(
        root.property("a").unwrap().value(),
        &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
    );
    assert_eq!(root.property("b").unwrap().value(), &[] as &[u8]);
    assert_eq!(root.property("c").unwrap().value(), b"s\0t\0");
    let child = root.child("n@1").unwrap();
    assert_eq!(child.property("d").unwrap().value(), &[0xff; 4]);
    let (code, comments) = split_comments("a /* one\n */ b // two\nc \"/* no */\"");
    assert_eq!(code, "a \n b \nc \"/* no */\"");
    assert_eq!(comments, " one\n *\n two\n");
}
