/* A fake libnvidia-ml.so.1 for tests: the NVML functions nvidia-ml-py calls, answering from a text file.
 *
 * $FAKE_NVML_STATE names the file, read again on every call (the test rewrites it while CooPy runs):
 *   gpu <index> <uuid> <total MiB> <energy mJ> <name, rest of the line>
 *   proc <gpu index> <pid> <used MiB>
 * No file, or no variable: NVML_ERROR_DRIVER_NOT_LOADED from nvmlInitWithFlags (as with no driver).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GPUS 16
#define MAX_PROCS 64
#define MIB 1048576ULL

enum { OK = 0, INVALID_ARGUMENT = 2, NOT_FOUND = 6, INSUFFICIENT_SIZE = 7, DRIVER_NOT_LOADED = 9 };

typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; } proc_info;
typedef struct { unsigned long long total, free, used; } memory_v1;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } memory_v2;
typedef struct { char uuid[96]; char name[96]; unsigned long long total, energy; } gpu;
typedef struct { unsigned int gpu, pid; unsigned long long used; } proc;

static gpu gpus[MAX_GPUS];
static proc procs[MAX_PROCS];
static unsigned int n_gpus, n_procs;

static int load(void) {
    const char *path = getenv("FAKE_NVML_STATE");
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[512];
    n_gpus = n_procs = 0;
    if (!f) return DRIVER_NOT_LOADED;
    while (fgets(line, sizeof line, f)) {
        unsigned int index, pid;
        unsigned long long a, b;
        char uuid[96];
        int used = 0;
        if (sscanf(line, "gpu %u %95s %llu %llu %n", &index, uuid, &a, &b, &used) == 4 && used > 0
            && index == n_gpus && n_gpus < MAX_GPUS) {
            gpu *g = &gpus[n_gpus++];
            snprintf(g->uuid, sizeof g->uuid, "%s", uuid);
            snprintf(g->name, sizeof g->name, "%s", line + used);
            g->name[strcspn(g->name, "\r\n")] = 0;
            g->total = a * MIB;
            g->energy = b;
        } else if (sscanf(line, "proc %u %u %llu", &index, &pid, &a) == 3 && n_procs < MAX_PROCS) {
            procs[n_procs].gpu = index;
            procs[n_procs].pid = pid;
            procs[n_procs].used = a * MIB;
            n_procs++;
        }
    }
    fclose(f);
    return OK;
}

/* A handle is a pointer into gpus[]; its index is where it points. */
static int index_of(const void *handle, unsigned int *index) {
    const gpu *g = handle;
    if (load() != OK) return DRIVER_NOT_LOADED;
    if (g < gpus || g >= gpus + n_gpus) return INVALID_ARGUMENT;
    *index = (unsigned int)(g - gpus);
    return OK;
}

static int copy_string(const char *from, char *to, unsigned int length) {
    if (!to || strlen(from) + 1 > length) return INSUFFICIENT_SIZE;
    strcpy(to, from);
    return OK;
}

static unsigned long long used_on(unsigned int index) {
    unsigned long long used = 0;
    for (unsigned int i = 0; i < n_procs; i++)
        if (procs[i].gpu == index) used += procs[i].used;
    return used;
}

int nvmlInitWithFlags(unsigned int flags) { (void)flags; return load(); }
int nvmlInit_v2(void) { return load(); }
int nvmlInit(void) { return load(); }
int nvmlShutdown(void) { return OK; }
const char *nvmlErrorString(int result) { return result == OK ? "Success" : "fake NVML error"; }

int nvmlDeviceGetCount_v2(unsigned int *count) {
    int ret = load();
    if (ret != OK) return ret;
    if (!count) return INVALID_ARGUMENT;
    *count = n_gpus;
    return OK;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **handle) {
    int ret = load();
    if (ret != OK) return ret;
    if (!handle || index >= n_gpus) return INVALID_ARGUMENT;
    *handle = &gpus[index];
    return OK;
}

int nvmlDeviceGetIndex(void *handle, unsigned int *index) {
    if (!index) return INVALID_ARGUMENT;
    return index_of(handle, index);
}

int nvmlDeviceGetUUID(void *handle, char *uuid, unsigned int length) {
    unsigned int i;
    int ret = index_of(handle, &i);
    return ret != OK ? ret : copy_string(gpus[i].uuid, uuid, length);
}

int nvmlDeviceGetName(void *handle, char *name, unsigned int length) {
    unsigned int i;
    int ret = index_of(handle, &i);
    return ret != OK ? ret : copy_string(gpus[i].name, name, length);
}

int nvmlDeviceGetMemoryInfo(void *handle, memory_v1 *memory) {
    unsigned int i;
    int ret = index_of(handle, &i);
    if (ret != OK) return ret;
    if (!memory) return INVALID_ARGUMENT;
    memory->total = gpus[i].total;
    memory->used = used_on(i);
    memory->free = memory->used < memory->total ? memory->total - memory->used : 0;
    return OK;
}

int nvmlDeviceGetMemoryInfo_v2(void *handle, memory_v2 *memory) {
    memory_v1 m;
    int ret = nvmlDeviceGetMemoryInfo(handle, &m);
    if (ret != OK) return ret;
    if (!memory) return INVALID_ARGUMENT;
    memory->total = m.total;
    memory->reserved = 0;
    memory->free = m.free;
    memory->used = m.used;
    return OK;
}

int nvmlDeviceGetComputeRunningProcesses_v3(void *handle, unsigned int *count, proc_info *infos) {
    unsigned int i, n = 0, room;
    int ret = index_of(handle, &i);
    if (ret != OK) return ret;
    if (!count) return INVALID_ARGUMENT;
    for (unsigned int p = 0; p < n_procs; p++) n += procs[p].gpu == i;
    room = *count;
    *count = n;
    if (n == 0) return OK;
    if (!infos || room < n) return INSUFFICIENT_SIZE;
    n = 0;
    for (unsigned int p = 0; p < n_procs; p++) {
        if (procs[p].gpu != i) continue;
        infos[n].pid = procs[p].pid;
        infos[n].used = procs[p].used;
        infos[n].gi = infos[n].ci = 0xFFFFFFFFu;
        n++;
    }
    return OK;
}

int nvmlDeviceGetTotalEnergyConsumption(void *handle, unsigned long long *energy) {
    unsigned int i;
    int ret = index_of(handle, &i);
    if (ret != OK) return ret;
    if (!energy) return INVALID_ARGUMENT;
    *energy = gpus[i].energy;
    return OK;
}
