/* SPDX-License-Identifier: Apache-2.0 */
/* A self-contained interactive SVG flame graph (zoom, search) from folded stacks. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"
#include "text_escape.h"

#define FG_WIDTH 1200.0
#define FG_FRAME_HEIGHT 16
#define FG_TOP 48      /* title and controls */
#define FG_BOTTOM 24   /* details line */
#define FG_MIN_WIDTH 0.1 /* px: narrower frames are left out */
#define FG_MAX_DEPTH 512

struct fg_node {
	char *name;
	uint64_t value;
	struct fg_node *children;
	size_t nchildren, cap;
};

static struct fg_node *child_of(struct fg_node *parent, const char *name, size_t len)
{
	struct fg_node *c;

	for (size_t i = 0; i < parent->nchildren; i++)
		if (strlen(parent->children[i].name) == len && strncmp(parent->children[i].name, name, len) == 0)
			return &parent->children[i];
	if (parent->nchildren == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct fg_node *bigger = realloc(parent->children, cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		parent->children = bigger;
		parent->cap = cap;
	}
	c = &parent->children[parent->nchildren];
	memset(c, 0, sizeof(*c));
	c->name = strndup(name, len);
	if (!c->name)
		return NULL;
	parent->nchildren++;
	return c;
}

static void fg_free(struct fg_node *n)
{
	for (size_t i = 0; i < n->nchildren; i++)
		fg_free(&n->children[i]);
	free(n->children);
	free(n->name);
}

/* Adds "a;b;c" with count to the tree under root. */
static int fg_add(struct fg_node *root, const char *stack, uint64_t count)
{
	struct fg_node *n = root;
	const char *p = stack;
	int depth = 0;

	root->value += count;
	while (*p && depth++ < FG_MAX_DEPTH) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);

		n = child_of(n, p, len);
		if (!n)
			return -ENOMEM;
		n->value += count;
		if (!semi)
			break;
		p = semi + 1;
	}
	return 0;
}

/* Text for SVG: escaped like every text output (no control bytes, which XML
 * forbids anyway, nor invalid UTF-8), then as XML; at most max bytes of it. */
static void xml_text(FILE *out, const char *s, size_t max)
{
	size_t need = text_escape(NULL, 0, s);
	char *safe = malloc(need + 1);

	if (!safe)
		return;
	text_escape(safe, need + 1, s);
	/* never half a UTF-8 character */
	if (max < need)
		while (max && ((unsigned char)safe[max] & 0xc0) == 0x80)
			max--;
	for (size_t i = 0; safe[i] && i < max; i++) {
		switch (safe[i]) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(safe[i], out);
		}
	}
	free(safe);
}

/* Warm colours, stable per name; kernel frames ("_[k]") orange, unknown grey. */
static void frame_color(const char *name, char *buf, size_t len)
{
	uint32_t h = 2166136261u;
	size_t n = strlen(name);

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	if (n > 4 && strcmp(name + n - 4, "_[k]") == 0)
		snprintf(buf, len, "rgb(%u,%u,%u)", 230 + h % 25, 130 + (h >> 8) % 60, 40 + (h >> 16) % 30);
	else if (name[0] == '[')
		snprintf(buf, len, "rgb(%u,%u,%u)", 180 + h % 20, 180 + h % 20, 180 + h % 20);
	else
		snprintf(buf, len, "rgb(%u,%u,%u)", 225 + h % 30, 80 + (h >> 8) % 120, 50 + (h >> 16) % 40);
}

static int fg_depth(const struct fg_node *n)
{
	int max = 0;

	for (size_t i = 0; i < n->nchildren; i++) {
		int d = fg_depth(&n->children[i]);

		if (d > max)
			max = d;
	}
	return max + 1;
}

/* A frame's or the graph's value: samples, or time where the values are nanoseconds
 * (offcpu's off_cpu_ns: "1.23s off CPU"). */
static void fg_value(FILE *out, uint64_t value, const char *column)
{
	char when[32], words[64];

	if (!is_ns_column(column)) {
		fprintf(out, "%llu samples", (unsigned long long)value);
		return;
	}
	snprintf(words, sizeof(words), "%.*s", (int)(strlen(column) - 3), column);
	for (char *c = words; *c; c++)
		if (*c == '_')
			*c = ' ';
	/* the acronym in a column's name: "off_cpu" reads "off CPU" */
	for (char *w = strstr(words, "cpu"); w; w = strstr(w + 3, "cpu"))
		memcpy(w, "CPU", 3);
	fprintf(out, "%s %s", duration_format(value, when, sizeof(when)), words);
}

/* Frames as <g> with their position in fractions of the total, so the script can zoom. */
static void fg_emit(FILE *out, const struct fg_node *n, double x, int depth, uint64_t total, int height,
		    const char *column)
{
	double w = (double)n->value / (double)total;
	double px = x * FG_WIDTH, pw = w * FG_WIDTH;
	int y = height - FG_BOTTOM - (depth + 1) * FG_FRAME_HEIGHT;
	char color[32];
	size_t fit = pw > 20 ? (size_t)((pw - 6) / 7) : 0;

	if (pw < FG_MIN_WIDTH)
		return;
	frame_color(n->name, color, sizeof(color));
	fprintf(out, "<g class=\"f\" data-x=\"%.9f\" data-w=\"%.9f\" data-d=\"%d\"><title>", x, w, depth);
	xml_text(out, n->name, SIZE_MAX);
	fputs(" (", out);
	fg_value(out, n->value, column);
	fprintf(out, ", %.2f%%)</title>", 100.0 * w);
	fprintf(out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>", px, y, pw,
		FG_FRAME_HEIGHT - 1, color);
	fprintf(out, "<text x=\"%.2f\" y=\"%d\">", px + 3, y + FG_FRAME_HEIGHT - 4);
	if (fit) {
		size_t shown = text_escape(NULL, 0, n->name);

		xml_text(out, n->name, shown > fit ? fit - 2 : fit);
		if (shown > fit)
			fputs("..", out);
	}
	fputs("</text></g>\n", out);
	for (size_t i = 0; i < n->nchildren; i++) {
		fg_emit(out, &n->children[i], x, depth + 1, total, height, column);
		x += (double)n->children[i].value / (double)total;
	}
}

/* Zoom: frames left of, right of or below the clicked one are rescaled or hidden.
 * Search: a regular expression highlights matches and says what share they hold. */
static const char fg_script[] =
	"var W=" "1200" ",svg=document.documentElement,frames=[].slice.call(document.querySelectorAll('g.f'));\n"
	"function place(g,x0,w0,d0){var x=+g.dataset.x,w=+g.dataset.w,d=+g.dataset.d,r=g.firstElementChild.nextElementSibling,t=r.nextElementSibling;\n"
	" var inside=x+w>x0+1e-12&&x<x0+w0-1e-12;if(d>=d0&&!inside){g.style.display='none';return;}g.style.display='';\n"
	" var nx=d<d0?0:(x-x0)/w0*W,nw=d<d0?W:w/w0*W;r.setAttribute('x',nx);r.setAttribute('width',nw);t.setAttribute('x',nx+3);\n"
	" var name=g.firstElementChild.textContent.replace(/ \\([^()]*%\\)$/,''),fit=Math.floor((nw-6)/7);\n"
	" t.textContent=nw<20?'':(name.length>fit?name.slice(0,Math.max(0,fit-2))+'..':name);}\n"
	"function zoom(g){var x=+g.dataset.x,w=+g.dataset.w,d=+g.dataset.d;frames.forEach(function(f){place(f,x,w,d);});\n"
	" document.getElementById('unzoom').style.opacity=1;}\n"
	"function unzoom(){frames.forEach(function(f){place(f,0,1,0);});document.getElementById('unzoom').style.opacity=0.2;}\n"
	"function search(){var re=prompt('Search frames (regular expression):');if(re===null)return;var rx;try{rx=new RegExp(re);}catch(e){alert(e);return;}\n"
	" var hit=0,spans=[];frames.forEach(function(f){var name=f.firstElementChild.textContent.replace(/ \\([^()]*%\\)$/,''),r=f.firstElementChild.nextElementSibling;\n"
	"  if(!r.dataset.fill)r.dataset.fill=r.getAttribute('fill');var m=re!==''&&rx.test(name);r.setAttribute('fill',m?'rgb(230,0,230)':r.dataset.fill);\n"
	"  if(m){var x=+f.dataset.x,w=+f.dataset.w;if(!spans.some(function(s){return x>=s[0]&&x+w<=s[1]+1e-12;})){spans.push([x,x+w]);hit+=w;}}});\n"
	" document.getElementById('matched').textContent=re===''?'':'Matched: '+(100*hit).toFixed(2)+'%';}\n"
	"frames.forEach(function(f){f.addEventListener('click',function(e){zoom(f);e.stopPropagation();});\n"
	" f.addEventListener('mouseover',function(){document.getElementById('details').textContent=f.firstElementChild.textContent;});});\n"
	"document.getElementById('unzoom').addEventListener('click',unzoom);document.getElementById('search').addEventListener('click',search);\n";

int flamegraph_write(FILE *out, const struct count_table *t, const char *title)
{
	struct fg_node root = { 0 };
	ssize_t stack_key = -1;
	int height, err = 0;

	for (size_t k = 0; k < t->nkeys; k++)
		if (strcmp(t->key_names[k], "stack") == 0)
			stack_key = (ssize_t)k;
	if (stack_key < 0)
		return -EINVAL;
	root.name = strdup("all");
	if (!root.name)
		return -ENOMEM;
	for (size_t r = 0; r < t->nrows && !err; r++)
		err = fg_add(&root, t->rows[r].keys[stack_key], t->rows[r].values[0]);
	if (err)
		goto cleanup;
	height = FG_TOP + FG_BOTTOM + fg_depth(&root) * FG_FRAME_HEIGHT;
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%.0f\" height=\"%d\" viewBox=\"0 0 %.0f %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<style>text{font-family:Verdana,sans-serif;font-size:12px;fill:#000;pointer-events:none}"
		"g.f:hover rect{stroke:#000;stroke-width:0.5}#title{font-size:17px}"
		".ctl{cursor:pointer;font-size:12px;pointer-events:all}</style>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"rgb(250,250,240)\"/>\n"
		"<text id=\"title\" x=\"%.0f\" y=\"24\" text-anchor=\"middle\">",
		FG_WIDTH, height, FG_WIDTH, height, FG_WIDTH / 2);
	xml_text(out, title, SIZE_MAX);
	if (is_ns_column(t->value_names[0])) {
		/* a time graph says so where it is read first */
		fputs(": ", out);
		fg_value(out, root.value, t->value_names[0]);
	}
	fprintf(out,
		"</text>\n"
		"<text id=\"unzoom\" class=\"ctl\" x=\"10\" y=\"24\" style=\"opacity:0.2\">Reset zoom</text>\n"
		"<text id=\"search\" class=\"ctl\" x=\"%.0f\" y=\"24\" text-anchor=\"end\">Search</text>\n"
		"<text id=\"matched\" x=\"%.0f\" y=\"%d\" text-anchor=\"end\"></text>\n"
		"<text id=\"details\" x=\"10\" y=\"%d\">",
		FG_WIDTH - 10, FG_WIDTH - 10, height - 6, height - 6);
	fg_value(out, root.value, t->value_names[0]);
	fputs("</text>\n", out);
	if (root.value)
		fg_emit(out, &root, 0, 0, root.value, height, t->value_names[0]);
	fprintf(out, "<script><![CDATA[\n%s]]></script>\n</svg>\n", fg_script);
	if (fflush(out))
		err = -EIO;
cleanup:
	fg_free(&root);
	return err;
}

/* True when frame (len bytes) already occurs in stack before position end. */
static bool seen_before(const char *stack, const char *end, const char *frame, size_t len)
{
	for (const char *p = stack; p < end;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t n = semi ? (size_t)(semi - p) : (size_t)(end - p);

		if (n == len && strncmp(p, frame, len) == 0)
			return true;
		if (!semi)
			break;
		p = semi + 1;
	}
	return false;
}

int stacks_top_functions(const struct count_table *stacks, struct count_table *out)
{
	static const char *const keys[] = { "function" };
	static const char *const values[] = { "self", "total" };
	ssize_t col = -1;
	char frame[512];
	int err = count_table_init(out, 1, keys, 2, values);

	for (size_t k = 0; k < stacks->nkeys; k++)
		if (strcmp(stacks->key_names[k], "stack") == 0)
			col = (ssize_t)k;
	if (err || col < 0)
		return err ? err : -EINVAL;
	for (size_t r = 0; r < stacks->nrows && !err; r++) {
		const char *stack = stacks->rows[r].keys[col], *first = strchr(stack, ';');
		/* the first frame is the command name (or, with --by, the workload) */
		const char *p = first ? first + 1 : stack;
		uint64_t n = stacks->rows[r].values[0];

		while (*p && !err) {
			const char *semi = strchr(p, ';');
			size_t len = semi ? (size_t)(semi - p) : strlen(p);
			/* total counts a function once per stack, even when it recurses */
			uint64_t add[2] = { semi ? 0 : n, seen_before(first ? first + 1 : stack, p, p, len) ? 0 : n };
			const char *key = frame;

			snprintf(frame, sizeof(frame), "%.*s", (int)len, p);
			err = count_table_add(out, &key, add);
			if (!semi)
				break;
			p = semi + 1;
		}
	}
	if (err)
		count_table_free(out);
	return err;
}
