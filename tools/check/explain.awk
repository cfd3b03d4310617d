# explain.awk: what the sanitizers and Go-style panics in a server's stderr
# mean, in a learner's words, with the line of their file to look at.
#
#     awk -v learner=04-timeout-fix/leaky.c -v root=/path/to/repo -f explain.awk FILES
#
# Prints one finding per line, each once, starting with its kind:
#   never-released:, use-after-free:, crash:, panic:, undefined:
# and nothing when there is nothing to say. It reads AddressSanitizer's,
# LeakSanitizer's and UBSan's reports and common/panic.c's message.

function short(path) {
    if (root != "" && index(path, root "/") == 1)
        return substr(path, length(root) + 2)
    return path
}

# "    #3 0x55d0 in handler /repo/04-timeout-fix/leaky.c:50" -> fn, at
function frame(line,   parts, n) {
    fn = ""; at = ""
    n = split(line, parts, " ")
    if (n >= 5 && parts[3] == "in") {
        fn = parts[4]
        at = short(parts[5])
        if (at ~ /:[0-9]+:[0-9]+$/) sub(/:[0-9]+$/, "", at)     # drop a column
        if (at !~ /:[0-9]+$/) at = ""
    }
}

function is_learners(where) {
    return learner != "" && index(where, learner ":") == 1
}

function say(text) {
    if (!(text in said)) {
        said[text] = 1
        nsaid++
        print text
    }
}

# The library's calls that make something its caller must release.
BEGIN { MAKERS = "(ctx_with_(cancel|deadline|timeout|value)|ctx_without_cancel|chan_make|time_after|timer_new|ticker_new|group_with_context|group_new)" }

# The learner's file, line by line, to quote the names they wrote.
function read_learner(   line, n) {
    if (learner_read) return
    learner_read = 1
    n = 0
    while ((getline line < (root "/" learner)) > 0)
        src[++n] = line
    close(root "/" learner)
}

# The name the learner's code uses for the library's NAME: the short one of
# short.h, or tl_NAME where their file calls that.
function called(name) {
    read_learner()
    for (i_ in src)
        if (index(src[i_], "tl_" name "("))
            return "tl_" name
    return name
}

# The text of the learner's line AT ("file:line").
function learner_line(at) {
    read_learner()
    return src[substr(at, length(learner) + 2) + 0]
}

# The variable the learner's line AT assigns, or "".
function assigned(at,   line, v) {
    line = learner_line(at)
    if (!match(line, /[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])? *= *(\(.*\))? *(tl_)?[a-z_]+\(/))
        return ""
    v = substr(line, RSTART, RLENGTH)
    sub(/ *=.*/, "", v)
    return v
}

# The library call that makes something on the learner's line AT, as they
# wrote it without its tl_, or "": a stack can miss one that tail-calls
# another (ctx_with_timeout is ctx_with_deadline's).
function api_written(at,   line) {
    line = learner_line(at)
    if (!match(line, "(tl_)?" MAKERS "\\("))
        return ""
    line = substr(line, RSTART, RLENGTH - 1)
    sub(/^tl_/, "", line)
    return line
}

function made_of(api) {
    if (api ~ /^ctx_with_|^ctx_without_cancel$/) return "a context (" called(api) ")"
    if (api == "chan_make") return "a channel (" called(api) ")"
    if (api == "time_after") return "a timer (" called(api) ")"
    if (api == "timer_new") return "a timer (" called(api) ")"
    if (api == "ticker_new") return "a ticker (" called(api) ")"
    if (api ~ /^group_(with_context|new)$/) return "an errgroup (" called(api) ")"
    return "memory"
}

# The declaration of NAME (as called() spells it), from common/threadleaks/,
# and the header a chapter includes for it: what the chapter README's "API
# you need" box lists.
function signature(name,   bare, t, sig, h) {
    bare = name; sub(/^tl_/, "", bare)
    t = name ~ /^tl_/ ? "tl_" : ""
    if (bare == "chan_release") { sig = "void %schan_release(%schan_t *ch)"; h = "chan.h" }
    else if (bare == "ctx_cancel") { sig = "void %sctx_cancel(%sctx_t *ctx)"; h = "context.h" }
    else if (bare == "ctx_release") { sig = "void %sctx_release(%sctx_t *ctx)"; h = "context.h" }
    else if (bare == "ctx_ref") { sig = "%sctx_t *%sctx_ref(%sctx_t *ctx)"; h = "context.h" }
    else if (bare == "group_free") { sig = "void %sgroup_free(%sgroup_t *g)"; h = "errgroup.h" }
    else if (bare == "group_wait") { sig = "int %sgroup_wait(%sgroup_t *g)"; h = "errgroup.h" }
    else if (bare == "timer_stop") { sig = "bool %stimer_stop(tl_timer_t *t)"; h = "timer.h" }
    else if (bare == "timer_free") { sig = "void %stimer_free(tl_timer_t *t)"; h = "timer.h" }
    else if (bare == "ticker_stop") { sig = "void %sticker_stop(%sticker_t *t)"; h = "timer.h" }
    else if (bare == "ticker_free") { sig = "void %sticker_free(%sticker_t *t)"; h = "timer.h" }
    else return ""
    # (timer_t is POSIX's: a timer is tl_timer_t in both spellings)
    return sprintf(sig, t, t, t) " (" h ")"
}

# " Declared as: ..." for the calls a hint names, or "".
function declared(a, b,   s) {
    s = signature(a)
    if (b != "" && signature(b) != "") s = s "; " signature(b)
    return s == "" ? "" : " Declared as: " s "."
}

# How to let go of what API made, in the names the learner wrote: v is the
# variable that holds it, or "" when the call's result is not kept.
function release_hint(api, v,   x) {
    x = v != "" ? v : "it"
    if (api ~ /^ctx_with_|^ctx_without_cancel$/)
        return "cancel and release it on every way out of the function, as Go's defer cancel(): " \
            called("ctx_cancel") "(" x "); then " called("ctx_release") "(" x ");" \
            declared(called("ctx_cancel"), called("ctx_release"))
    if (api == "chan_make")
        return "drop your reference once you are done with it: " called("chan_release") "(" x ");" \
            declared(called("chan_release"))
    if (api == "time_after") {
        if (v == "")
            return "keep the timer in a variable, chan_t *timer = " called("time_after") \
                "(...), and " called("chan_release") "(timer); once the select is over, whichever case won." \
                declared(called("chan_release"))
        return called("chan_release") "(" x "); once the select is over, whichever case won." \
            declared(called("chan_release"))
    }
    if (api == "timer_new")
        return called("timer_stop") "(" x "); then " called("timer_free") "(" x ");" \
            declared(called("timer_stop"), called("timer_free"))
    if (api == "ticker_new")
        return called("ticker_stop") "(" x "); then " called("ticker_free") "(" x ");" \
            declared(called("ticker_stop"), called("ticker_free"))
    if (api ~ /^group_(with_context|new)$/)
        return called("group_free") "(" x "); after " called("group_wait") "(" x "); it also releases the context the group made." \
            declared(called("group_wait"), called("group_free"))
    return "free it."
}

# A stack just read: nframes entries of fns[] and ats[]. The learner's first
# frame, and the last API call of common/ made before it.
function place(   i) {
    mine = 0; api = ""
    for (i = 1; i <= nframes; i++) {
        if (is_learners(ats[i])) { mine = i; break }
        if (fns[i] ~ "^(tl_)?" MAKERS "$")
            api = fns[i]
    }
    sub(/^tl_/, "", api)
}

function first_own(   i) {
    for (i = 1; i <= nframes; i++)
        if (ats[i] != "" && ats[i] !~ /^\.\.\// && ats[i] !~ /^\//)
            return fns[i] " at " ats[i]
    return nframes > 0 ? fns[1] : "?"
}

function end_leak(   what) {
    place()
    if (mine > 0) {
        if (api_written(ats[mine]) != "") api = api_written(ats[mine])
        what = made_of(api)
        say("never-released: " what " made at " ats[mine] " (in " fns[mine] ") is never released: " release_hint(api, assigned(ats[mine])))
    } else if (nframes > 0) {
        unplaced_leak = first_own()
    }
    nframes = 0
}

function end_stack(   i) {
    place()
    if (!(stack in stack_at)) {
        stack_at[stack] = mine > 0 ? ats[mine] " (in " fns[mine] ")" : first_own()
        for (i = 1; i <= nframes; i++)
            if (ats[i] ~ /^common\/(server|conn|routes)\.c:/)
                by_server[stack] = 1
    }
    nframes = 0
}

# " Your leaky.c releases at lines 27 and 41: ..." for a use after free whose
# stacks never pass through the learner's file.
function releases(   line, n, at, list) {
    n = 0; list = ""
    while ((getline line < (root "/" learner)) > 0) {
        at++
        if (line ~ /(ctx_release|chan_release|group_free)\(/ && line !~ /^[ \t]*(\/\*|\*|\/\/)/)
            list = list (n++ ? ", " : "") learner ":" at
    }
    close(root "/" learner)
    if (n == 0) return ""
    return " Your file releases at " list ": is each of those references yours to drop?"
}

function end_asan(   where, freed, made) {
    where = stack_at["access"]
    freed = stack_at["freed"]
    made = stack_at["made"]
    if (asan == "heap-use-after-free" && index(where, learner ":") != 1 && index(freed, learner ":") == 1) {
        say("use-after-free: " freed " frees memory that is used afterwards, by " where \
            ". Release only the references you own: the one chan_make, ctx_with_* or ctx_ref / chan_ref gave you.")
    } else if (asan == "heap-use-after-free" && index(where, learner ":") != 1 && index(freed, learner ":") != 1) {
        say("use-after-free: " where " uses memory after it was freed, by " freed \
            "; the last reference went early: one was released that was not owned." releases())
    } else if (asan == "heap-use-after-free" && access_thread != "" && access_thread == freed_thread) {
        say("use-after-free: " where " " verb " memory that the same thread freed before, at " freed \
            ": a pointer used after its release (a dangling pointer), not a thread outliving its caller. Release it after its last use, or set it to NULL.")
    } else if (asan == "heap-use-after-free" && by_server["made"] && by_server["freed"] && stack_at["creation"] != "") {
        say("use-after-free: " where " " verb " the request's context after the server freed it: the server frees r->ctx once the handler has answered, and this thread, started at " \
            stack_at["creation"] ", was still using it. A thread that outlives its handler needs its own reference: " \
            called("ctx_ref") "(r->ctx) when you start it and " called("ctx_release") " when it is done (go_with takes and drops one for you)." \
            declared(called("ctx_ref"), called("ctx_release")))
    } else if (asan == "heap-use-after-free") {
        say("use-after-free: " where " uses memory after it was freed" (freed != "" ? ", at " freed : "") \
            (made != "" ? "; it was made at " made : "") \
            ". A thread that outlives its caller needs its own reference: go_with takes them for it, or ctx_ref / chan_ref and a release when done.")
    } else if (asan ~ /^stack-use-after-(scope|return)$/) {
        say("use-after-free: " where " reads a local variable after its scope has ended: a thread was handed the address of a loop variable or of a local that is gone by the time it reads it.")
    } else if (asan == "SEGV") {
        say("crash: the server crashed: SIGSEGV in " where ".")
    } else {
        say("crash: the server crashed: " asan " in " where ".")
    }
    asan = ""; delete stack_at; delete by_server; access_thread = freed_thread = ""
}

/ERROR: LeakSanitizer: detected memory leaks/ { mode = "leak"; next }
/ERROR: AddressSanitizer: / {
    mode = "asan"; stack = "access"; nframes = 0
    asan = $0
    sub(/.*ERROR: AddressSanitizer: /, "", asan)
    sub(/ .*/, "", asan)
    next
}
mode == "leak" && /^(Direct|Indirect) leak of/ { nframes = 0; inleak = 1; next }
mode != "" && /^ +#[0-9]+ / {
    frame($0)
    nframes++; fns[nframes] = fn; ats[nframes] = at
    next
}
mode == "leak" && inleak && /^$/ { end_leak(); inleak = 0; next }
# "READ of size 4 at 0x60e0 thread T3": what the access did, and on which thread
mode == "asan" && /^(READ|WRITE) of size [0-9]+ at .* thread T[0-9]+/ {
    verb = /^READ/ ? "reads" : "writes"
    access_thread = $NF
    next
}
mode == "asan" && /^freed by thread T[0-9]+/ { freed_thread = $4 }
mode == "asan" && /^(freed by thread|previously allocated by thread|Thread T[0-9]+ created by)/ {
    if (nframes > 0) end_stack()
    stack = /^freed/ ? "freed" : /^previously/ ? "made" : "creation"
    next
}
mode == "asan" && /^$/ { if (nframes > 0) end_stack(); next }
/^SUMMARY: AddressSanitizer/ {
    if (mode == "leak" && inleak) end_leak()
    if (mode == "asan") { if (nframes > 0) end_stack(); end_asan() }
    mode = ""; inleak = 0
    next
}
/: runtime error: / {
    where = $0
    sub(/: runtime error: .*/, "", where)
    sub(/:[0-9]+$/, "", where)
    message = $0
    sub(/.*: runtime error: /, "", message)
    say("undefined: undefined behaviour at " short(where) ": " message ".")
    next
}
/^panic: / { panic_text = substr($0, 8); next }
panic_text != "" && /^thread .* \[running\]:/ { panic_thread = $2; next }
panic_text != "" && /^\tat / {
    where = short(substr($0, 5))
    hint = ""
    if (panic_text == "send on closed channel")
        hint = " Closing a channel does not free a sender blocked on it: in Go the sender panics. Give the channel room, or make sure its value is received."
    if (panic_text == "close of closed channel")
        hint = " A channel is closed once, by its one sender; whoever else wants to stop waits on a context instead."
    say("panic: the server panicked, as Go would: " panic_text " at " where " (thread " panic_thread ")." hint)
    panic_text = ""
    next
}
END {
    if (mode == "leak" && inleak) end_leak()
    if (nsaid == 0 && unplaced_leak != "")
        say("never-released: something is never freed: the first allocation nobody frees is made by " unplaced_leak ". Does your code take a reference (ctx_ref, chan_ref) it never drops?")
}
