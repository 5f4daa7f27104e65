/* vm-resume — let a paused microVM's vCPUs run on.
 *
 * Its usage, the text --help prints, is vm_resume_usage[] below.
 */
#include "applet.h"

const char vm_resume_usage[] =
	"usage: vm-resume NAME...\n"
	"\n"
	"Undoes 'vm pause': the vCPUs run on from where they stopped (QMP cont\n"
	"under QEMU, PATCH /vm Resumed under Firecracker). The guest's clock\n"
	"resumes where it stood, behind the host's by the time spent paused.\n"
	"Resuming a VM that is not running, or is not paused, answers 1.\n"
	"\n"
	"examples:\n"
	"  banger vm resume web\n"
	"  banger vm pause web db && banger vm resume web db\n";

int vm_resume_main(int argc, char **argv)
{
	return pause_applet(argc, argv, false);
}
