# The breakpoints NOTES.md's "Debugging" section walks through, as a gdb
# script. tests/debugging.rs runs it in batch mode against a debug build,
# so the notes cannot drift from the code:
#   rust-gdb -q -batch -x tests/gdb/login.gdb --args target/debug/handstamp \
#       --single-thread --no-inspector --addr 127.0.0.1:0
# (--no-inspector: the panel reads cookies and files too, which would add
# stops that this walk does not list.)
# then, from another terminal, log in (Connection: close), and GET / with
# the cookie.
set pagination off
set confirm off
set print pretty off

# 1. The request head, exactly as it arrived on the socket.
break handstamp::request::parse_head
# 2. The Cookie header, parsed: the values of the `session` cookie.
break handstamp::request::Request::cookie_values
# 3. A new session id is drawn.
break handstamp::session::id::SessionId::new_random
# 4. The session file is written (temporary file, then rename).
break handstamp::session::folder::SessionFolder::write
# 5. The Set-Cookie header is made.
break handstamp::cookie::set_session_cookie
# 6. The answer, just before it is logged and written to the socket.
break handstamp::log::Log::exchange

run
echo STOP 1 parse_head\n
eval "printf \"%%.%us\", head.data_ptr", head.length
continue
echo STOP 2 cookie_values\n
finish
continue
echo STOP 3 new_random\n
finish
continue
echo STOP 4 write\n
print *id
print data.values
continue
echo STOP 5 set_session_cookie\n
finish
continue
echo STOP 6 exchange\n
print response.status
print response.headers

# The next request brings the cookie back: watch the file being found.
delete
break handstamp::session::SessionStore::load
break handstamp::session::file::SessionData::from_file_text
continue
echo STOP 7 load\n
print *id
continue
echo STOP 8 from_file_text\n
print text
kill
quit
