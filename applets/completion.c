/* completion — shell completion for bash, zsh and fish, generated from the applet table.
 *
 * Its usage, the text --help prints, is completion_usage[] below. What each
 * applet takes comes from its own usage text (lib/usage.h): the table and
 * the usage pages are the one source of truth, so a new option completes
 * the day it is documented.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "store.h"
#include "usage.h"
#include "xfuncs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char completion_usage[] =
	"usage: completion bash|zsh|fish\n"
	"       completion --names vms|images|kernels\n"
	"\n"
	"Prints a completion script for the shell: nouns and verbs (banger vm\n"
	"r<TAB>), each applet's options and their fixed values (--net tap|user|\n"
	"none), and the names of VMs, images and kernels, read from the store at\n"
	"TAB time through 'banger completion --names KIND' (one name a line). The\n"
	"banger-APPLET links of --install complete too. zsh runs the bash\n"
	"function through bashcompinit.\n"
	"\n"
	"examples:\n"
	"  banger completion bash >~/.local/share/bash-completion/completions/banger\n"
	"  source <(banger completion zsh)\n"
	"  banger completion fish >~/.config/fish/completions/banger.fish\n";

/* What a value or a positional word completes to. */
enum kind { K_NONE, K_FILES, K_VMS, K_IMAGES, K_KERNELS, K_VMPATH, K_WORDS, K_REST };

static const char *const kind_names[] = { "none",    "files",  "vms",	"images",
					  "kernels", "vmpath", "words", "rest" };

static bool upper_word(const char *w)
{
	for (; *w; w++)
		if (*w >= 'a' && *w <= 'z')
			return false;
	return true;
}

/* The noun of an applet name ("vm" of "vm-run"): a prefix several share. */
static size_t noun_len(const char *name)
{
	const char *dash = strchr(name, '-');
	size_t len = dash ? (size_t)(dash - name) : 0, n = 0;

	for (size_t i = 0; len && i < applet_count; i++)
		if (!strncmp(applet_table[i].name, name, len) && applet_table[i].name[len] == '-')
			n++;
	return n > 1 ? len : 0;
}

static enum kind noun_kind(const char *applet)
{
	size_t len = noun_len(applet);

	/* A pull or an import names what is not in the store yet. */
	if (!len || strstr(applet, "-pull") || strstr(applet, "-import") ||
	    !strcmp(applet, "vm-create") || !strcmp(applet, "vm-run"))
		return K_NONE;
	if (!strncmp(applet, "vm", len))
		return K_VMS;
	if (!strncmp(applet, "image", len))
		return K_IMAGES;
	return !strncmp(applet, "kernel", len) ? K_KERNELS : K_NONE;
}

static enum kind value_kind(const char *applet, const struct usage_opt *o)
{
	const char *v = o->value;

	if (!strcmp(o->name, "--image"))
		return K_IMAGES;
	if (!strcmp(o->name, "--kernel"))
		return K_KERNELS;
	if (strchr(v, '|') && !upper_word(v))
		return K_WORDS;
	if (strstr(v, "FILE") || strstr(v, "PATH") || strstr(v, "DIR") || !strcmp(v, "KEY"))
		return K_FILES;
	(void)applet;
	return K_NONE;
}

static enum kind positional_kind(const char *applet, const char *w)
{
	char word[64];

	snprintf(word, sizeof(word), "%s", w);
	word[strcspn(word, ".")] = strstr(word, "...") ? '\0' : word[strcspn(word, ".")];
	if (strchr(word, '|') && !upper_word(word))
		return K_WORDS;
	if (!strcmp(word, "NAME"))
		return noun_kind(applet);
	if (!strcmp(word, "KERNEL"))
		return K_KERNELS;
	if (!strcmp(word, "SRC") || !strcmp(word, "DST"))
		return K_VMPATH;
	if (strstr(word, "FILE") || strstr(word, "PATH") || strstr(word, "DIR"))
		return K_FILES;
	if (!strcmp(word, "CMD") || !strcmp(word, "ARGS") || strstr(word, "ARGS"))
		return K_REST;
	return K_NONE;
}

/* The words of "a|b|c" separated by spaces. */
static void words_of(const char *v, char *out, size_t size)
{
	size_t i = 0;

	for (; *v && i + 1 < size; v++)
		out[i++] = *v == '|' ? ' ' : *v;
	out[i] = '\0';
}

/* One applet's spec for the bash function: options, option values,
 * positional kinds, whether the last one repeats. */
static void bash_spec(const struct applet *a)
{
	struct usage_opt opts[USAGE_MAX_OPTS];
	size_t n = usage_options(a->usage, opts, USAGE_MAX_OPTS);
	char pos[512], *w, *next, words[128];
	bool repeats = false, first = true;

	printf("\t%s)\n\t\t_o='", a->name);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", opts[i].name);
	printf(" --help'\n\t\t_v='");
	for (size_t i = 0; i < n; i++) {
		enum kind k = value_kind(a->name, &opts[i]);

		if (opts[i].arg != USAGE_VALUE)
			continue;
		printf("%s%s=%s", first ? "" : " ", opts[i].name, kind_names[k]);
		if (k == K_WORDS) {
			words_of(opts[i].value, words, sizeof(words));
			for (char *c = words; *c; c++)
				if (*c == ' ')
					*c = ',';
			printf(":%s", words);
		}
		first = false;
	}
	printf("'\n\t\t_p='");
	usage_positionals(a->usage, pos, sizeof(pos));
	first = true;
	for (w = pos; *w; w = next) {
		enum kind k;

		next = w + strcspn(w, " ");
		if (*next)
			*next++ = '\0';
		k = positional_kind(a->name, w);

		printf("%s%s", first ? "" : " ", kind_names[k]);
		if (k == K_WORDS) {
			words_of(w, words, sizeof(words));
			for (char *c = words; *c; c++)
				if (*c == ' ')
					*c = ',';
			printf(":%s", words);
		}
		repeats = strstr(w, "...") != NULL;
		first = false;
	}
	printf("'\n\t\t_r=%d ;;\n", repeats);
}

/* The generic part: walks COMP_WORDS to the applet, then completes an
 * option, an option's value or the next positional from the spec. */
static const char bash_body[] =
	"_banger_names() {\n"
	"\tlocal IFS=$'\\n'\n"
	"\tCOMPREPLY+=($(compgen -W \"$(\"$_banger_bin\" completion --names \"$1\" 2>/dev/null)\" "
	"-- \"$2\"))\n"
	"}\n"
	"\n"
	"# _banger_kind KIND[:w1,w2] WORD: completions of one kind into COMPREPLY.\n"
	"_banger_kind() {\n"
	"\tcase $1 in\n"
	"\tfiles) COMPREPLY=($(compgen -f -- \"$2\")) ;;\n"
	"\tvms | images | kernels) _banger_names \"$1\" \"$2\" ;;\n"
	"\tvmpath)\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$2\"))\n"
	"\t\tlocal n\n"
	"\t\tfor n in $(\"$_banger_bin\" completion --names vms 2>/dev/null); do\n"
	"\t\t\t[[ $n: == \"$2\"* ]] && COMPREPLY+=(\"$n:\")\n"
	"\t\tdone\n"
	"\t\tcompopt -o nospace 2>/dev/null ;;\n"
	"\twords:*) local w=${1#words:}; COMPREPLY=($(compgen -W \"${w//,/ }\" -- \"$2\")) ;;\n"
	"\tesac\n"
	"}\n"
	"\n"
	"_banger() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} i=1 applet= self=${COMP_WORDS[0]##*/}\n"
	"\tlocal _o _v _p _r prev w k n=0 rest=\n"
	"\t_banger_bin=banger\n"
	"\t[[ $self == banger ]] && _banger_bin=${COMP_WORDS[0]}\n"
	"\tCOMPREPLY=()\n"
	"\tif [[ $self == banger-* ]]; then\n"
	"\t\tapplet=${self#banger-}\n"
	"\telse\n"
	"\t\twhile ((i < COMP_CWORD)) && [[ ${COMP_WORDS[i]} == -* ]]; do ((i++)); done\n"
	"\t\tif ((i == COMP_CWORD)); then\n"
	"\t\t\tif [[ $cur == -* ]]; then\n"
	"\t\t\t\tCOMPREPLY=($(compgen -W \"-q -v --quiet --verbose --list --install --version "
	"--help\" -- \"$cur\"))\n"
	"\t\t\telse\n"
	"\t\t\t\tCOMPREPLY=($(compgen -W \"$_banger_top help\" -- \"$cur\"))\n"
	"\t\t\tfi\n"
	"\t\t\treturn\n"
	"\t\tfi\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ $w == help ]]; then\n"
	"\t\t\t((i + 1 == COMP_CWORD)) && COMPREPLY=($(compgen -W \"$_banger_top\" -- \"$cur\"))\n"
	"\t\t\treturn\n"
	"\t\tfi\n"
	"\t\tk=_banger_verbs_$w\n"
	"\t\tif [[ -n ${!k-} ]]; then\n"
	"\t\t\t((i++))\n"
	"\t\t\tif ((i == COMP_CWORD)); then\n"
	"\t\t\t\tCOMPREPLY=($(compgen -W \"${!k} help --help\" -- \"$cur\"))\n"
	"\t\t\t\treturn\n"
	"\t\t\tfi\n"
	"\t\t\tapplet=$w-${COMP_WORDS[i]}\n"
	"\t\telse\n"
	"\t\t\tapplet=$w\n"
	"\t\tfi\n"
	"\tfi\n"
	"\t_banger_spec \"$applet\" || return\n"
	"\t# Count the positionals before the cursor; an option's value is none.\n"
	"\tfor ((i = i + 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ -n $rest ]]; then continue; fi\n"
	"\t\tif [[ $w == -- ]]; then rest=1; continue; fi\n"
	"\t\tif [[ $w == -* ]]; then\n"
	"\t\t\t[[ \" $_v \" == *\" $w=\"* ]] && ((i++))\n"
	"\t\t\tcontinue\n"
	"\t\tfi\n"
	"\t\t((n++))\n"
	"\tdone\n"
	"\tprev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	"\tif [[ -z $rest && $prev == -* && \" $_v \" == *\" $prev=\"* ]]; then\n"
	"\t\tk=${_v#*\"$prev=\"}\n"
	"\t\t_banger_kind \"${k%% *}\" \"$cur\"\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [[ -z $rest && $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$_o\" -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tlocal -a kinds=($_p)\n"
	"\t((n >= ${#kinds[@]} && _r)) && n=$((${#kinds[@]} - 1))\n"
	"\tk=${kinds[n]-}\n"
	"\t[[ -z $rest && -n $k && $k != rest ]] && _banger_kind \"$k\" \"$cur\"\n"
	"}\n";

static void bash(void)
{
	printf("# banger completion for bash, generated by 'banger completion bash' from\n"
	       "# the applet table and each applet's usage. Source it, or put it in\n"
	       "# ~/.local/share/bash-completion/completions/banger.\n");
	printf("_banger_top='");
	for (size_t i = 0, len; i < applet_count; i++) {
		const char *nm = applet_table[i].name;

		if (applet_table[i].guest)
			continue;
		len = noun_len(nm);
		/* a noun once, at its first verb */
		if (len && i && !strncmp(applet_table[i - 1].name, nm, len + 1))
			continue;
		printf("%s%.*s", i ? " " : "", len ? (int)len : (int)strlen(nm), nm);
	}
	printf("'\n");
	for (size_t i = 0, len; i < applet_count; i++) {
		const char *nm = applet_table[i].name;

		if (!(len = noun_len(nm)))
			continue;
		if (!i || strncmp(applet_table[i - 1].name, nm, len + 1))
			printf("_banger_verbs_%.*s='", (int)len, nm);
		else
			putchar(' ');
		printf("%s", nm + len + 1);
		if (i + 1 == applet_count || strncmp(applet_table[i + 1].name, nm, len + 1))
			printf("'\n");
	}
	printf("\n_banger_spec() {\n\tcase $1 in\n");
	for (size_t i = 0; i < applet_count; i++)
		if (!applet_table[i].guest)
			bash_spec(&applet_table[i]);
	printf("\t*) return 1 ;;\n\tesac\n}\n\n%s\ncomplete -o default -F _banger banger",
	       bash_body);
	for (size_t i = 0; i < applet_count; i++)
		if (!applet_table[i].guest)
			printf(" banger-%s", applet_table[i].name);
	printf("\n");
}

/* s in fish's single quotes (\\ and \' escaped). */
static void fish_quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('\'');
}

static void fish(void)
{
	printf("# banger completion for fish, generated by 'banger completion fish'.\n"
	       "complete -c banger -f\n");
	for (size_t i = 0; i < applet_count; i++) {
		const struct applet *a = &applet_table[i];
		struct usage_opt opts[USAGE_MAX_OPTS];
		size_t n, len = noun_len(a->name);
		char cond[160], pos[512], words[128];
		enum kind k;

		if (a->guest)
			continue;
		if (len) {
			char verbs[512];
			size_t v = 0;

			for (size_t j = 0; j < applet_count; j++)
				if (!strncmp(applet_table[j].name, a->name, len + 1))
					v += (size_t)snprintf(
						verbs + v,
						v < sizeof(verbs) ? sizeof(verbs) - v : 0, " %s",
						applet_table[j].name + len + 1);
			if (v >= sizeof(verbs))
				die(EXIT_SYSTEM, "too many verbs for one noun");
			printf("complete -c banger -n '__fish_use_subcommand' -a '%.*s'\n",
			       (int)len, a->name);
			printf("complete -c banger -n '__fish_seen_subcommand_from %.*s; and not "
			       "__fish_seen_subcommand_from%s' -a '%s' -d ",
			       (int)len, a->name, verbs, a->name + len + 1);
			fish_quoted(a->summary);
			putchar('\n');
			snprintf(cond, sizeof(cond),
				 "__fish_seen_subcommand_from %.*s; and "
				 "__fish_seen_subcommand_from %s",
				 (int)len, a->name, a->name + len + 1);
		} else {
			printf("complete -c banger -n '__fish_use_subcommand' -a '%s' -d ",
			       a->name);
			fish_quoted(a->summary);
			putchar('\n');
			snprintf(cond, sizeof(cond), "__fish_seen_subcommand_from %s", a->name);
		}
		n = usage_options(a->usage, opts, USAGE_MAX_OPTS);
		for (size_t j = 0; j < n; j++) {
			const char *o = opts[j].name;

			printf("complete -c banger -n '%s' %s %s", cond, o[1] == '-' ? "-l" : "-s",
			       o + (o[1] == '-' ? 2 : 1));
			k = opts[j].arg == USAGE_VALUE ? value_kind(a->name, &opts[j]) : K_NONE;
			if (k == K_WORDS) {
				words_of(opts[j].value, words, sizeof(words));
				printf(" -xa '%s'", words);
			} else if (k == K_FILES) {
				printf(" -rF");
			} else if (k == K_VMS || k == K_IMAGES || k == K_KERNELS) {
				printf(" -xa '(banger completion --names %s)'", kind_names[k]);
			} else if (opts[j].arg == USAGE_VALUE) {
				printf(" -x");
			}
			putchar('\n');
		}
		usage_positionals(a->usage, pos, sizeof(pos));
		pos[strcspn(pos, " ")] = '\0';
		k = positional_kind(a->name, pos);
		if (k == K_VMS || k == K_IMAGES || k == K_KERNELS || k == K_VMPATH)
			printf("complete -c banger -n '%s' -a '(banger completion --names %s)'\n",
			       cond, k == K_VMPATH ? "vms" : kind_names[k]);
		else if (k == K_WORDS) {
			words_of(pos, words, sizeof(words));
			printf("complete -c banger -n '%s' -a '%s'\n", cond, words);
		} else if (k == K_FILES)
			printf("complete -c banger -n '%s' -F\n", cond);
	}
}

/* The simple-named entries of KIND/ holding FILE (NULL: any), one a line. */
static int names(const char *kind)
{
	static const struct {
		const char *kind, *dir, *file;
	} kinds[] = {
		{ "vms", "vms", "config.json" },
		{ "images", "images", "rootfs.ext4" },
		{ "kernels", "kernels", "vmlinux" },
	};
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	struct dirent **list;
	struct store s;
	struct err e;
	int n;

	err_init(&e);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].kind))
			continue;
		if (store_init(&s, &e) < 0 ||
		    path_join(dir, sizeof(dir), s.home, kinds[i].dir, &e) < 0)
			die_err(&e);
		n = scandir(dir, &list, NULL, alphasort);
		for (int j = 0; j < n; j++) {
			if (path_is_simple_name(list[j]->d_name) &&
			    path_joinf(path, sizeof(path), &e, dir, "%s/%s", list[j]->d_name,
				       kinds[i].file) == 0 &&
			    access(path, F_OK) == 0)
				puts(list[j]->d_name);
			free(list[j]);
		}
		if (n >= 0)
			free(list);
		return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
	}
	die_usage("--names %s: give vms, images or kernels", kind);
}

int completion_main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--names"))
		return names(argv[2]);
	if (argc != 2)
		die_usage("give the shell: bash, zsh or fish");
	if (!strcmp(argv[1], "bash")) {
		bash();
	} else if (!strcmp(argv[1], "zsh")) {
		/* zsh runs bash completion functions through bashcompinit. */
		printf("#compdef banger\n"
		       "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit -u; }\n"
		       "autoload -U +X bashcompinit && bashcompinit\n");
		bash();
	} else if (!strcmp(argv[1], "fish")) {
		fish();
	} else {
		die_usage("'%s': give bash, zsh or fish", argv[1]);
	}
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
