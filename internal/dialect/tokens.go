package dialect

// TokenKind classifies a Token.
type TokenKind uint8

// Token kinds, as the dialect's lexer reads SQL.
const (
	TokenSpace   = TokenKind(tkSpace)   // whitespace
	TokenComment = TokenKind(tkComment) // -- line comment or /* block */
	TokenIdent   = TokenKind(tkIdent)   // unquoted identifier or keyword
	TokenQuoted  = TokenKind(tkQuoted)  // "quoted identifier", quotes included
	TokenString  = TokenKind(tkString)  // 'string literal', quotes included
	TokenNumber  = TokenKind(tkNumber)  // 12, 1.5, 1e-3
	TokenOp      = TokenKind(tkOp)      // operator or punctuation
)

// Token is one lexical token; concatenating a query's tokens gives the query back.
type Token struct {
	Kind TokenKind
	Text string
}

// Tokens splits sql into tokens with the lexer the rewrite uses, for doors that look at a query
// before it is rewritten (the Postgres wire server splits statements, finds $n parameters and
// tells catalog queries apart). It fails on an unterminated string, quoted identifier or
// comment.
func Tokens(sql string) ([]Token, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(toks))
	for i, t := range toks {
		out[i] = Token{Kind: TokenKind(t.kind), Text: t.text}
	}
	return out, nil
}
