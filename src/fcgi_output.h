/* fcgi_output.h: libfcgi's records of one answer leave in one write(2); libfcgi flushes every 8 KB. */
#ifndef WEBAPI_FCGI_OUTPUT_H
#define WEBAPI_FCGI_OUTPUT_H

/*
 * Why this exists: libfcgi writes a connection only through
 * OS_Write(fd, buffer, length), from an output buffer of 8 KB it sizes
 * itself, so an /orders answer of 11 KB left in two writes, and the web
 * server woke and read twice. libfcgi.so calls OS_Write through its PLT,
 * so the definition in fcgi_output.c takes the place of libfcgi's own in
 * this program (as fcgi_input.c does for OS_Read). Between
 * fcgi_output_hold and fcgi_output_release, libfcgi's writes to that
 * descriptor are gathered, up to FCGI_OUTPUT_HOLD_MAX bytes, and sent
 * together; a larger answer goes out in pieces of about that size.
 * Writes to any other descriptor, and all of them outside that span, go
 * straight to write(2) as libfcgi's own OS_Write does.
 */

#define FCGI_OUTPUT_HOLD_MAX (32 * 1024)

/* Gathers libfcgi's writes to fd from now on; a hold on another
 * descriptor is released first. */
void fcgi_output_hold(int fd);

/* Writes what was gathered (all of it, or fails) and ends the hold.
 * 0, or -1 with errno when the connection failed. */
int fcgi_output_release(void);

/* fd is being closed: what was gathered for it is dropped, never
 * written to whatever connection gets its number next. */
void fcgi_output_forget(int fd);

#endif
