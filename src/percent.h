/* percent.h: reading RFC 3986 percent-escapes, shared by the router and the DATABASE_URL masking. */
#ifndef WEBAPI_PERCENT_H
#define WEBAPI_PERCENT_H

/* The value of one hexadecimal digit, or -1 for any other character. */
int hex_digit(char c);

#endif
