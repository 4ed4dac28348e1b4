/* percent.h: reading RFC 3986 percent-escapes in request paths and query parameters. */
#ifndef WEBAPI_PERCENT_H
#define WEBAPI_PERCENT_H

/* The value of one hexadecimal digit, or -1 for any other character. */
int percent_hex_digit(char c);

#endif
