#include "client/kvctl.h"

int main(int argc, char** argv) { return pbft::client::kvctl_main(argc, argv); }
