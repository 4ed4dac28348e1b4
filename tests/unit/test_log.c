/* test_log.c: a log line stays one line whatever it quotes, and a flood of one kind collapses into a count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char captured[65536];

/* Runs the logging between begin_capture and end_capture into a file
 * standing in for stderr, and returns what was written. */
static FILE *capture_file;
static int saved_stderr;

static void begin_capture(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(capture_file), STDERR_FILENO);
}

static const char *end_capture(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(capture_file);
	size_t length = fread(captured, 1, sizeof captured - 1, capture_file);
	captured[length] = '\0';
	fclose(capture_file);
	return captured;
}

static int described;

static void describe_peer(void *subject, char *out, size_t out_size)
{
	described++;
	snprintf(out, out_size, "peer %s, request GET /orders\nforged", (const char *)subject);
}

static int count_lines(const char *text)
{
	int lines = 0;

	for (; *text != '\0'; text++)
		lines += *text == '\n';
	return lines;
}

int main(void)
{
	begin_capture();
	log_line("cannot read database %s", "/x\nwebapi-fcgi[1]: forged line\r\x1b[31m");
	const char *text = end_capture();
	OK(count_lines(text) == 1, "a newline in a logged value does not start a line (%d lines)", count_lines(text));
	OK(strstr(text, "/x\\nwebapi-fcgi[1]: forged line\\r\\x1b[31m\n") != NULL,
	   "control characters are spelled out");

	begin_capture();
	log_line("slow request: %s", "GET /caf\xc3\xa9?\xff\x80\xc0\xaf\xed\xa0\x80\xe2\x82");
	text = end_capture();
	OK(strstr(text, ": slow request: GET /caf\xc3\xa9?\\xff\\x80\\xc0\\xaf\\xed\\xa0\\x80\\xe2\\x82\n") != NULL,
	   "a character is written as it is, a byte that starts none is spelled out: %s", text);

	begin_capture();
	for (int i = 0; i < 20000; i++)
		log_limited("refused a connection from %s", i % 2 ? "192.0.2.1" : "192.0.2.2");
	log_limited("another kind of line %d", 1);
	log_flush_repeats();
	text = end_capture();
	OK(count_lines(text) == 3, "20,000 repeats and another kind: 3 lines (%d)", count_lines(text));
	OK(strstr(text, ": refused a connection from 192.0.2.2\n") != NULL, "the first of the kind is written in full");
	OK(strstr(text, ": refused a connection from 192.0.2.2 ... and 19,999 more like it in the last 1 s\n") != NULL,
	   "the rest are counted: %s", text);
	OK(strstr(text, ": another kind of line 1\n") != NULL, "another kind has its own count");

	begin_capture();
	log_flush_repeats();
	text = end_capture();
	OK(text[0] == '\0', "a count is written once");

	/* A line about a peer names it at its end; a line counted formats none. */
	struct log_subject about = {describe_peer, "192.0.2.7:40312"};
	begin_capture();
	log_line_about(&about, "closed a connection that sent %s", "bad records");
	for (int i = 0; i < 1000; i++)
		log_limited_about(&about, "reset a connection that took none of its answer %d", i);
	log_line_about(NULL, "no subject");
	log_flush_repeats();
	text = end_capture();
	OK(strstr(text, ": closed a connection that sent bad records; peer 192.0.2.7:40312, request GET "
			"/orders\\nforged\n") != NULL,
	   "a line about a connection ends with its peer and request, on one line: %s", text);
	OK(described == 2, "and only written lines describe their subject (%d of 1,001)", described);
	OK(strstr(text, ": no subject\n") != NULL, "a line with no subject has no suffix");
	OK(strstr(text, ": reset a connection that took none of its answer 0 ... and 999 more like it") != NULL,
	   "a count does not name the first line's peer for all of them");

	/* The summary quotes the first 159 bytes: a cut after 158 splits the é. */
	char long_line[200];
	memset(long_line, 'x', 158);
	strcpy(long_line + 158, "\xc3\xa9 and more");
	begin_capture();
	log_limited("%s", long_line);
	log_limited("%s", long_line);
	log_flush_repeats();
	text = end_capture();
	OK(strstr(text, "xxx ... and 1 more like it") != NULL && strstr(text, "\\x") == NULL,
	   "a summary quotes the first line up to the character it would cut: %s", text);
	DONE_TESTING();
}
