#include "json.h"

#include <string.h>

struct p {
    const char *s;
    int depth;
};

static bool value(struct p *p);

static void space(struct p *p)
{
    while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
        p->s++;
}

static bool word(struct p *p, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(p->s, w, n) != 0)
        return false;
    p->s += n;
    return true;
}

static bool digits(struct p *p)
{
    if (*p->s < '0' || *p->s > '9')
        return false;
    while (*p->s >= '0' && *p->s <= '9')
        p->s++;
    return true;
}

static bool number(struct p *p)
{
    if (*p->s == '-')
        p->s++;
    if (*p->s == '0')
        p->s++;
    else if (!digits(p))
        return false;
    if (*p->s == '.') {
        p->s++;
        if (!digits(p))
            return false;
    }
    if (*p->s == 'e' || *p->s == 'E') {
        p->s++;
        if (*p->s == '+' || *p->s == '-')
            p->s++;
        if (!digits(p))
            return false;
    }
    return true;
}

static bool hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool string(struct p *p)
{
    if (*p->s != '"')
        return false;
    p->s++;
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            p->s++;
            if (*p->s == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!hex(p->s[i]))
                        return false;
                p->s += 5;
                continue;
            }
            if (!*p->s || !strchr("\"\\/bfnrt", *p->s))
                return false;
        }
        p->s++;
    }
    p->s++;
    return true;
}

/* A list of items between open and close, separated by commas. */
static bool list(struct p *p, char open, char close, bool members)
{
    if (*p->s != open || ++p->depth > 512)
        return false;
    p->s++;
    space(p);
    if (*p->s == close) {
        p->s++;
        p->depth--;
        return true;
    }
    for (;;) {
        space(p);
        if (members) {
            if (!string(p))
                return false;
            space(p);
            if (*p->s != ':')
                return false;
            p->s++;
        }
        if (!value(p))
            return false;
        space(p);
        if (*p->s == close) {
            p->s++;
            p->depth--;
            return true;
        }
        if (*p->s != ',')
            return false;
        p->s++;
    }
}

static bool value(struct p *p)
{
    space(p);
    switch (*p->s) {
    case '{': return list(p, '{', '}', true);
    case '[': return list(p, '[', ']', false);
    case '"': return string(p);
    case 't': return word(p, "true");
    case 'f': return word(p, "false");
    case 'n': return word(p, "null");
    default: return number(p);
    }
}

bool json_valid(const char *text, long *where)
{
    struct p p = { text, 0 };
    bool ok = value(&p);
    if (ok) {
        space(&p);
        ok = *p.s == '\0';
    }
    if (!ok && where)
        *where = p.s - text;
    return ok;
}

void json_write_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}
